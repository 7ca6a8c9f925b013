"""Saving and loading trained models and their training histories (notebooks 03-07).

:func:`load_or_train` lets every notebook run on its own: it loads a model that an
earlier notebook saved, or trains it with the same recipe when it is absent. In quick
mode a saved model older than the course's code (any file of ``helpers/``) is trained
again rather than reused, so a model from an older version never passes for the current one.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from helpers.config import committed_dir, is_quick, models_dir
from helpers.models import INPUT_SHAPE, NUM_CLASSES

CODE_DIR = Path(__file__).resolve().parent
"""The course's code (the ``helpers`` package): a quick-mode model older than it is stale."""


class ModelFileError(RuntimeError):
    """Raised when a file is not a Keras model of this course (wrong format or wrong shapes)."""


def model_path(name: str) -> Path:
    """Where the model called ``name`` is saved for the current mode."""
    return models_dir() / f"{name}.keras"


def history_path(name: str) -> Path:
    """Where the training history of ``name`` is saved for the current mode."""
    return models_dir() / f"{name}.history.json"


def save_for_inference(model: keras.Model, name: str) -> Path:
    """Save ``model`` as ``<models>/<name>.keras`` without its optimizer's state.

    A compiled model's ``.keras`` file also holds the optimizer's slots (Adam keeps two
    numbers per weight), about twice the weights again; a model that is only used to
    predict does not need them. The copy is rebuilt from the model's configuration (not with
    ``keras.models.clone_model``, which compiles the clone like the original, optimizer
    included) and given the model's weights. A functional model built from a list of one
    input (``keras.Model(other.inputs, ...)``) is saved with that single input instead, so
    that calling it on an array of images does not warn that it expected a list.
    """
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    if not isinstance(copy, keras.Sequential) and len(copy.inputs) == 1:
        copy = keras.Model(copy.inputs[0], copy.outputs[0], name=copy.name)
    path = model_path(name)
    copy.save(path)
    return path


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
    """Load a ``.keras`` file and check that it classifies 28x28x1 images into 10 classes
    (the digits) or 11 (the digits, then "not a digit": a deployed model).

    Raises :class:`ModelFileError` with a clear message for a missing file, a file that
    is not a Keras archive or cannot be loaded, and a model that does not take one
    28x28x1 input and give one set of 10 or 11 class probabilities (softmax).
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
        inputs, outputs = list(model.inputs), list(model.outputs)
    except Exception as error:  # anything wrong inside the archive
        raise ModelFileError(f"{path} could not be loaded as a Keras model: {error}") from error
    needs = (
        f"this course needs one input {INPUT_SHAPE} (MNIST images) and one output of "
        f"{NUM_CLASSES} class probabilities (or {NUM_CLASSES + 1}, the last for \"not a digit\")"
    )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelFileError(
            f"{path} holds a model with {len(inputs)} inputs and {len(outputs)} outputs; {needs}."
        )
    input_shape = tuple(inputs[0].shape[1:])
    output_shape = tuple(outputs[0].shape[1:])
    if input_shape != INPUT_SHAPE or output_shape not in ((NUM_CLASSES,), (NUM_CLASSES + 1,)):
        raise ModelFileError(
            f"{path} holds a model for inputs {input_shape} and outputs {output_shape}; {needs}."
        )
    probe = np.random.default_rng(0).random((2, *INPUT_SHAPE), dtype=np.float32)
    try:
        probabilities = np.asarray(model(probe, training=False), dtype=np.float64)
    except Exception as error:
        raise ModelFileError(f"{path} holds a model that fails on an image: {error}") from error
    if not (
        np.isfinite(probabilities).all()
        and probabilities.min() >= 0.0
        and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    ):
        raise ModelFileError(
            f"{path} holds a model whose outputs are not probabilities (no softmax at the end, "
            f"or broken weights); {needs}."
        )
    return model


def is_stale(name: str) -> bool:
    """Whether the saved model ``name`` is older than a file of the course's code."""
    saved = min(model_path(name).stat().st_mtime, history_path(name).stat().st_mtime)
    return any(file.stat().st_mtime > saved for file in CODE_DIR.glob("*.py"))


def saved_model_folder(name: str, with_history: bool = True) -> Path | None:
    """The folder holding model ``name`` and (unless ``with_history`` is False) its history
    for this mode, or None.

    This mode's own folder comes first (``models/`` in the course's run, ``scratch/full/models``
    in a full run of your own); in full mode the committed ``models/`` is the fallback, so a
    notebook opened on its own uses the course's trained model. Quick mode never falls back:
    its models must come from this run's code.
    """
    folders = [models_dir()]
    if not is_quick():
        folders.append(committed_dir() / "models")
    for folder in folders:
        has_history = not with_history or (folder / f"{name}.history.json").is_file()
        if (folder / f"{name}.keras").is_file() and has_history:
            return folder
    return None


def _shown(path: Path) -> str:
    from helpers import relative_to_repo

    return relative_to_repo(path)


def load_saved(name: str) -> keras.Model:
    """Load model ``name`` from this mode's models folder or, in full mode, the committed
    ``models/`` (see :func:`saved_model_folder`); a clear error when neither has it."""
    folder = saved_model_folder(name, with_history=False)
    if folder is None:
        raise ModelFileError(f"no saved model {name!r}: run the notebook that trains it "
                             f"first (looked in {_shown(models_dir())})")
    return load_model(folder / f"{name}.keras")


def load_or_train(
    name: str, train: Callable[[], tuple[keras.Model, dict[str, list[float]]]]
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Load model ``name`` and its history if saved for this mode, else call ``train()``.

    ``train`` must return the model and its history; both are saved before returning,
    so the next notebook finds them. In quick mode a saved model older than any file of
    ``helpers/`` is trained again (it may come from older code); in full mode the saved
    (committed) model is always used.
    """
    path = model_path(name)
    folder = saved_model_folder(name)
    if folder is not None:
        saved = folder / f"{name}.keras"
        if is_quick() and is_stale(name):
            print(f"The saved {name} ({_shown(saved)}) is older than the course's code "
                  "(helpers/): training it again with its notebook's recipe.")
        else:
            print(f"Loaded {name} from {_shown(saved)}")
            history = json.loads((folder / f"{name}.history.json").read_text())
            return load_model(saved), history
    else:
        print(f"No saved {name} for this mode: training it now with its notebook's recipe.")
    model, history = train()
    model.save(path)
    save_history(history, name)
    return model, history
