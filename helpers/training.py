"""Training: the checkpointed fit of notebook 03, and the recipe of notebook 06's best CNN.

Notebook 03 shows ``compile`` and ``fit`` with the checkpoint in its cells;
``fit_with_checkpoint`` and ``train_original_cnn`` repeat them for later notebooks and the
benchmark. Notebook 06 shows the best CNN's layers, ``compile`` and ``fit``;
``best_recipe``, ``compile_best_cnn`` and ``train_best_cnn`` repeat them for the benchmark.
``tests/test_notebook_models.py`` and ``tests/test_notebook06_models.py`` check that each
pair agrees.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf

from helpers.artifacts import model_path, save_history
from helpers.config import SEED, pick, set_seed
from helpers.data import Splits
from helpers.models import build_original_cnn, compile_original_cnn

ORIGINAL_CNN = "original_cnn"
"""Name under which notebook 03 saves the original CNN."""

HANDWRITING_CNN = "handwriting_cnn"
"""Name under which notebook 08 saves the model trained for digits from outside MNIST."""

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


class Stopwatch:
    """Wall-clock seconds of a ``with`` block: ``with timer: ...`` then ``timer.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


class KeepRawWeights(keras.callbacks.Callback):
    """Keeps the weights at the end of the last epoch in ``self.weights``.

    With ``Adam(use_ema=True)`` ``fit`` replaces the weights by their moving average when it
    ends; the weights that training itself reached are then gone. This callback keeps them,
    so that both can be scored (notebook 06's weight-averaging rung).
    """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.weights = self.model.get_weights()


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


def warmup_cosine(
    peak_learning_rate: float, total_steps: int, warmup_fraction: float = 0.15
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up, then cosine decay to zero: notebook 06's ``warmup_cosine``.

    The rate rises linearly from ``peak/25`` to ``peak`` over the first
    ``warmup_fraction`` of the steps, then follows a cosine down to zero (a shape close
    to Leslie Smith's "one-cycle" policy).
    """
    warmup_steps = max(1, int(total_steps * warmup_fraction))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak_learning_rate / 25,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=0.0,
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )


one_cycle_schedule = warmup_cosine
"""The same schedule under the name the speed recipes use."""


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


def ema_momentum(total_steps: int) -> float:
    """The momentum of the weights' moving average for a run of ``total_steps`` steps: it
    averages over roughly the last tenth of the run (0.9987 for 36 epochs of 215 steps)."""
    return max(0.0, 1.0 - 10.0 / total_steps)


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                 augment=None) -> tf.data.Dataset:
    """The input pipeline: images kept in memory (``cache``), reshuffled at every pass,
    batched, each batch passed through ``augment`` if given (in order, so a seeded run
    repeats), repeated without end (``fit`` counts the steps), and prepared one batch ahead
    while the model trains (``prefetch``)."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    dataset = dataset.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment is not None:
        dataset = dataset.map(lambda images, labels: (augment(images), labels))
    return dataset.repeat().prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class BestRecipe:
    """The recipe of the course's best single CNN (notebook 07), chosen on the validation
    split one change at a time in notebook 06 (rung 8) and then trained for longer.

    ``models.build_cnn(kernel=5, hidden=256)`` (5x5 convolutions, a hidden dense layer of
    256, Dropout 0.5), each training image resampled once by a random affine transform,
    Adam on the warm-up + cosine schedule, plain cross-entropy. ``batch_norm_momentum``
    (not part of the recipe; the benchmark's ensemble uses it for some members) adds batch
    normalization after each convolution.
    """

    epochs: int
    batch_size: int = 256
    peak_learning_rate: float = 3e-3
    warmup_fraction: float = 0.15
    augment: bool = True
    batch_norm_momentum: float | None = None

    def as_dict(self) -> dict:
        """The recipe as a plain dictionary, for printing and for the test-set record."""
        return asdict(self)


def best_recipe() -> BestRecipe:
    """The best single CNN's recipe: 25 epochs in full mode (2 in quick mode), as notebook 07."""
    return BestRecipe(epochs=pick(full=25, quick=2))


def compile_best_cnn(model: keras.Model, recipe: BestRecipe, total_steps: int) -> keras.Model:
    """Compile as notebook 07's ``compile_best_cnn``: Adam on the warm-up + cosine schedule
    over ``total_steps``, cross-entropy on one-hot labels, accuracy."""
    schedule = warmup_cosine(recipe.peak_learning_rate, total_steps, recipe.warmup_fraction)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    return model


def train_best_cnn(x_train: np.ndarray, y_train: np.ndarray, seed: int,
                   recipe: BestRecipe | None = None, validation: tuple | None = None,
                   callbacks: list | None = None, verbose: int = 0) -> keras.Model:
    """Build, compile and fit the best CNN on ``x_train``/``y_train`` (integer labels) from
    ``seed``, as notebook 07 does; the schedule ends at zero, so the last weights are kept.
    ``validation`` is an optional ``(x, y)`` pair with integer labels."""
    from helpers.augmentation import random_affine
    from helpers.models import build_cnn

    recipe = recipe or best_recipe()
    set_seed(seed)
    steps = steps_per_epoch(len(y_train), recipe.batch_size)
    model = compile_best_cnn(
        build_cnn(kernel=5, hidden=256, batch_norm_momentum=recipe.batch_norm_momentum),
        recipe, recipe.epochs * steps)
    train = make_dataset(x_train, keras.utils.to_categorical(y_train, 10), recipe.batch_size,
                         seed, augment=random_affine if recipe.augment else None)
    validation_data = None
    if validation is not None:
        validation_data = (validation[0], keras.utils.to_categorical(validation[1], 10))
    model.fit(train, epochs=recipe.epochs, steps_per_epoch=steps, shuffle=False,  # tf.data shuffles
              validation_data=validation_data, callbacks=callbacks or [], verbose=verbose)
    return model
