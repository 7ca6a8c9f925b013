"""Training with a best-model checkpoint and a saved history (introduced in notebook 03)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import keras
import numpy as np

from helpers.artifacts import model_path, save_history
from helpers.config import SEED, pick, set_seed
from helpers.data import Splits
from helpers.models import build_modern_cnn, build_original_cnn, compile_original_cnn

ORIGINAL_CNN = "original_cnn"
"""Name under which notebook 03 saves the original CNN."""

BEST_CNN = "best_cnn"
"""Name under which notebook 06 saves the course's best single model (also the default
model of ``python -m helpers.predict``)."""


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


def one_cycle_schedule(
    peak_learning_rate: float, total_steps: int, warmup_fraction: float = 0.2
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Warm-up then cosine decay (a "one-cycle" shape), introduced in notebook 06.

    The rate rises linearly from ``peak/25`` to ``peak`` over the first
    ``warmup_fraction`` of the steps, then follows a cosine down to zero.
    """
    warmup_steps = max(1, int(total_steps * warmup_fraction))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak_learning_rate / 25,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=0.0,
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )


def compile_adam(model: keras.Model, learning_rate) -> keras.Model:
    """Compile with Adam (a fixed rate or a schedule), cross-entropy and accuracy (notebook 06)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Number of batches in one epoch (the last batch may be smaller)."""
    return -(-examples // batch_size)


@dataclass(frozen=True)
class ScheduleRecipe:
    """Hyperparameters of a run with the one-cycle schedule (notebook 06)."""

    epochs: int
    batch_size: int
    peak_learning_rate: float

    def as_dict(self) -> dict[str, float]:
        """The recipe as a plain dictionary, for printing."""
        return asdict(self)


def best_recipe() -> ScheduleRecipe:
    """The recipe of the course's best single model (notebook 06), chosen on validation data."""
    return ScheduleRecipe(epochs=pick(full=12, quick=1), batch_size=256, peak_learning_rate=1e-2)


def train_best_cnn(
    splits: Splits, seed: int = SEED, name: str = BEST_CNN, augment: bool = True,
    batch_norm: bool = True, verbose: int = 2,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the modern CNN with augmentation and the one-cycle schedule, as notebook 06 does.

    ``augment`` and ``batch_norm`` switch ideas off for the ablation.
    """
    set_seed(seed)
    recipe = best_recipe()
    total_steps = recipe.epochs * steps_per_epoch(len(splits.y_train), recipe.batch_size)
    model = compile_adam(
        build_modern_cnn(batch_norm=batch_norm, augment=augment, name=name),
        one_cycle_schedule(recipe.peak_learning_rate, total_steps),
    )
    history = fit_with_checkpoint(model, splits, name, recipe.epochs, recipe.batch_size,
                                  verbose=verbose)
    return model, history
