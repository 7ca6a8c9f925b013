"""Saving and loading trained models and their training histories (notebooks 03-07).

:func:`load_or_train` lets every notebook run on its own: it loads a model that an
earlier notebook saved, or trains it with the same recipe when it is absent.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import keras

from helpers.config import models_dir
from helpers.models import INPUT_SHAPE, NUM_CLASSES


class ModelFileError(RuntimeError):
    """Raised when a file is not a Keras model of this course (wrong format or wrong shapes)."""


def model_path(name: str) -> Path:
    """Where the model called ``name`` is saved for the current mode."""
    return models_dir() / f"{name}.keras"


def history_path(name: str) -> Path:
    """Where the training history of ``name`` is saved for the current mode."""
    return models_dir() / f"{name}.history.json"


def save_history(history: dict[str, list[float]], name: str) -> Path:
    """Write a Keras ``History.history`` dictionary (metric -> list per epoch) as JSON."""
    path = history_path(name)
    clean = {key: [float(v) for v in values] for key, values in history.items()}
    path.write_text(json.dumps(clean, indent=1) + "\n")
    return path


def load_history(name: str) -> dict[str, list[float]]:
    """Read a history written by :func:`save_history`."""
    return json.loads(history_path(name).read_text())


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` file and check that it classifies 28x28x1 images into 10 classes.

    Raises :class:`ModelFileError` with a clear message for a missing file, a file that
    is not a Keras archive, or a model built for other inputs or outputs.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a Keras 3 model file (.keras archive). "
            "Save models with model.save('name.keras')."
        )
    try:
        model = keras.models.load_model(path)
    except Exception as error:
        raise ModelFileError(f"{path} could not be loaded as a Keras model: {error}") from error
    input_shape = tuple(model.inputs[0].shape[1:])
    output_shape = tuple(model.outputs[0].shape[1:])
    if input_shape != INPUT_SHAPE or output_shape != (NUM_CLASSES,):
        raise ModelFileError(
            f"{path} holds a model for inputs {input_shape} and outputs {output_shape}; "
            f"this course needs inputs {INPUT_SHAPE} (MNIST images) and {NUM_CLASSES} outputs."
        )
    return model


def load_or_train(
    name: str, train: Callable[[], tuple[keras.Model, dict[str, list[float]]]]
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Load model ``name`` and its history if saved for this mode, else call ``train()``.

    ``train`` must return the model and its history; both are saved before returning,
    so the next notebook finds them.
    """
    if model_path(name).is_file() and history_path(name).is_file():
        print(f"Loaded {name} from {model_path(name)}")
        return load_model(model_path(name)), load_history(name)
    print(f"No saved {name} for this mode: training it now (same recipe as notebook 03).")
    model, history = train()
    model.save(model_path(name))
    save_history(history, name)
    return model, history
