"""The benchmark's ensemble: CNNs of three shapes, trained by ``make benchmark``.

Notebook 07 shows that three CNNs trained alike share most of their mistakes, so averaging
them gains little. The benchmark's members differ in the shape of the network
(:data:`helpers.models.ENSEMBLE_ARCHITECTURES`: 5x5 kernels, 5x5 then two 3x3, 7x7 then
5x5), two seeds each. The choice was made on the validation split
(``results/validation_probes/ensemble_2026-12/``): in 6-epoch probes, an elastic
distortion composed with the affine augmentation (:func:`helpers.augmentation.elastic_affine`)
made members that shared fewer errors but made more, and ensembles of three with them
did worse than without them; three shapes with the affine augmentation made the fewest
validation errors of all ensembles of three. The elastic option stays in
:data:`AUGMENTATIONS` for experiments.

Each member trains on all 60,000 training images with notebook 07's schedule (Adam,
warm-up + cosine to zero, batch 256, last weights kept). :data:`MEMBERS` declares every
member's seed before the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import keras
import numpy as np

from helpers import augmentation, config, models, training


@dataclass(frozen=True)
class MemberRecipe:
    """How one ensemble member is built and trained."""

    architecture: str
    augmentation: str  # "affine" or "elastic"
    epochs: int
    batch_size: int = 256
    peak_learning_rate: float = 3e-3
    warmup_fraction: float = 0.15
    dropout_rate: float = 0.5
    batch_norm_momentum: float | None = None  # batch normalization after each convolution

    def as_dict(self) -> dict:
        """The recipe as a plain dictionary (for printing and the test-set record)."""
        return asdict(self)

    def describe(self) -> str:
        """A short name, e.g. ``"5x5 + batch norm 0.9, elastic, 25 epochs"``."""
        shape = self.architecture
        if self.batch_norm_momentum is not None:
            shape += f" + batch norm {self.batch_norm_momentum}"
        return f"{shape}, {self.augmentation}, {self.epochs} epochs"


AUGMENTATIONS: dict[str, Callable] = {"affine": augmentation.random_affine,
                                      "elastic": augmentation.elastic_affine}
"""The augmentations a member may use, by name."""

EPOCHS = 25
"""Epochs of every member in full mode."""

MEMBERS: tuple[tuple[int, MemberRecipe], ...] = tuple(
    (seed, MemberRecipe(architecture, "affine", EPOCHS))
    for seed, architecture in zip(
        range(501, 507),
        ["5x5", "5x5-3x3-3x3", "7x7-5x5", "5x5", "5x5-3x3-3x3", "7x7-5x5"], strict=True))
"""(seed, recipe) of each member, declared before the benchmark runs."""


def quick_members() -> tuple[tuple[int, MemberRecipe], ...]:
    """Two members for one epoch: the code path the tests exercise."""
    return tuple((seed, replace(recipe, epochs=1)) for seed, recipe in MEMBERS[:2])


def members(quick: bool | None = None) -> tuple[tuple[int, MemberRecipe], ...]:
    """The members of this run (:func:`quick_members` in quick mode)."""
    quick = config.is_quick() if quick is None else quick
    return quick_members() if quick else MEMBERS


def build_member(recipe: MemberRecipe) -> keras.Model:
    """The member's network, compiled for a run over ``examples`` images (see
    :func:`train_member`)."""
    return models.build_ensemble_cnn(recipe.architecture,
                                     batch_norm_momentum=recipe.batch_norm_momentum,
                                     dropout_rate=recipe.dropout_rate)


def compile_member(model: keras.Model, recipe: MemberRecipe, examples: int) -> keras.Model:
    """Adam on the warm-up + cosine schedule over the whole run, plain cross-entropy."""
    steps = recipe.epochs * training.steps_per_epoch(examples, recipe.batch_size)
    schedule = training.warmup_cosine(recipe.peak_learning_rate, steps, recipe.warmup_fraction)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    return model


def train_member(recipe: MemberRecipe, x: np.ndarray, y: np.ndarray, seed: int,
                 callbacks: list | None = None, verbose: int = 0) -> keras.Model:
    """Build, compile and train one member on images ``x`` and integer labels ``y``."""
    config.set_seed(seed)
    model = compile_member(build_member(recipe), recipe, len(y))
    steps = training.steps_per_epoch(len(y), recipe.batch_size)
    train = training.make_dataset(x, keras.utils.to_categorical(y, 10), recipe.batch_size,
                                  seed, augment=AUGMENTATIONS[recipe.augmentation])
    model.fit(train, epochs=recipe.epochs, steps_per_epoch=steps, shuffle=False,
              callbacks=callbacks or [], verbose=verbose)
    return model


def shared_errors(probabilities: list[np.ndarray], labels: np.ndarray) -> dict[int, int]:
    """How many images exactly k of the members get wrong, for k = 1 .. len(members)."""
    wrong = np.array([p.argmax(axis=1) != labels for p in probabilities]).sum(axis=0)
    return {k: int((wrong == k).sum()) for k in range(1, len(probabilities) + 1)}
