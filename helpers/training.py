"""Training with a best-model checkpoint and a saved history (introduced in notebook 03)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import keras
import numpy as np

from helpers.artifacts import model_path, save_history
from helpers.config import SEED, pick, set_seed
from helpers.data import Splits
from helpers.models import build_original_cnn, compile_original_cnn

ORIGINAL_CNN = "original_cnn"
"""Name under which notebook 03 saves the original CNN."""


@dataclass(frozen=True)
class Recipe:
    """Hyperparameters of one training run."""

    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float

    def as_dict(self) -> dict[str, float]:
        """The recipe as a plain dictionary, for printing."""
        return asdict(self)


def original_recipe() -> Recipe:
    """The original recipe of notebook 03: SGD with momentum, at most ``epochs`` epochs.

    The epoch actually kept is chosen on the validation split by the checkpoint.
    """
    return Recipe(
        epochs=pick(full=20, quick=2), batch_size=128, learning_rate=0.02, momentum=0.9
    )


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of every epoch in ``self.seconds``."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def best_epoch(history: dict[str, list[float]], monitor: str = "val_accuracy") -> int:
    """1-based epoch with the best ``monitor`` value (the earliest on ties)."""
    return int(np.argmax(history[monitor])) + 1


def fit_with_checkpoint(
    model: keras.Model,
    splits: Splits,
    name: str,
    epochs: int,
    batch_size: int,
    verbose: int = 2,
) -> dict[str, list[float]]:
    """Fit ``model``, keep the weights of its best validation epoch, save model and history.

    The checkpoint watches validation accuracy only: the test set plays no part in
    choosing the epoch. Returns the history (metric -> value per epoch) with an
    extra ``epoch_seconds`` entry.
    """
    timer = EpochTimer()
    checkpoint = keras.callbacks.ModelCheckpoint(
        model_path(name), monitor="val_accuracy", mode="max", save_best_only=True
    )
    fit = model.fit(
        splits.x_train,
        splits.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(splits.x_val, splits.y_val),
        callbacks=[checkpoint, timer],
        verbose=verbose,
    )
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    history["epoch_seconds"] = timer.seconds
    model.set_weights(keras.models.load_model(model_path(name)).get_weights())
    save_history(history, name)
    return history


def train_original_cnn(
    splits: Splits, seed: int = SEED, verbose: int = 2
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build, compile and train the original CNN exactly as notebook 03 does."""
    set_seed(seed)
    recipe = original_recipe()
    model = compile_original_cnn(build_original_cnn(), recipe.learning_rate, recipe.momentum)
    history = fit_with_checkpoint(
        model, splits, ORIGINAL_CNN, recipe.epochs, recipe.batch_size, verbose=verbose
    )
    return model, history
