"""Classify images of handwritten digits from the command line (notebook 08).

    python -m helpers.predict IMAGE [IMAGE ...] [--json] [--model PATH] [--rule PATH]
                              [--always-answer]

Each image goes through :mod:`helpers.preprocess` (MNIST's form) and the model, then
through the model's decline rule (:mod:`helpers.decline`, chosen on validation): the
command answers with a digit, or declines with "not sure" (no digit is probable enough) or
"not a digit" (an 11-class model's last output is high enough), naming its top guess either
way. One line per image gives the answer, its probability and the runner-up. With
``--json`` each line is a JSON object::

    {"path": ..., "digit": 7 or null, "declined": null or "not sure" or "not a digit",
     "probability": <the answered digit's, null when declined>,
     "top_guess": 7, "top_guess_probability": ..., "runner_up": 1,
     "runner_up_probability": ..., "not_digit_probability": <11-class models, else null>,
     "probabilities": [ten digit probabilities, after temperature scaling]}

The model is ``models/deployed_cnn.keras`` unless ``--model`` names another; its rule is
read from ``NAME.decline.json`` next to the model (or ``--rule``). A model of your own
without a rule file never declines. ``--always-answer`` ignores the rule and gives the
model's own probabilities and top digit.

Declining is an answer, not an error. An image that cannot be read (missing, not an image,
blank) gets a one-line error on stderr; the others are still classified, and the exit
status is 1 if any failed (2 for a model or rule that cannot be loaded, or wrong arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from helpers import decline, relative_to_repo
from helpers.config import REPO_ROOT
from helpers.decline import Decision, DeclineRule, DeclineRuleError

DEFAULT_MODEL = REPO_ROOT / "models" / "deployed_cnn.keras"
"""The deployed model, committed with its decline rule next to it
(``models/deployed_cnn.decline.json``), so that the command works before any training."""

def default_model() -> Path:
    """The model the command uses without ``--model``."""
    return DEFAULT_MODEL


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.predict",
        description="Classify images of handwritten digits (any size; dark ink on light "
        "paper or the reverse) with a model trained on MNIST. The model declines to answer "
        "(\"not sure\", \"not a digit\") when its decline rule says so; a declined image "
        "is an answer, not an error.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a .keras model for 28x28x1 inputs and 10 classes, or 11 with \"not a digit\" "
        f"last (default: {relative_to_repo(DEFAULT_MODEL)})",
    )
    parser.add_argument(
        "--rule",
        type=Path,
        default=None,
        help="the decline rule, a JSON file (default: NAME.decline.json next to the model "
        "NAME.keras; a model of your own without one always answers)",
    )
    parser.add_argument(
        "--always-answer",
        action="store_true",
        help="never decline: the model's own probabilities and its most probable digit",
    )
    return parser.parse_args(argv)


def model_rule(model_path: Path, rule_path: Path | None) -> DeclineRule | None:
    """The decline rule for ``model_path``: from ``rule_path``, else the rule file next to the
    model; None (always answer) for a model without one, except the deployed model, whose
    rule must be there. Raises :class:`DeclineRuleError`."""
    if rule_path is not None:
        return decline.load_rule(rule_path)
    next_to_it = decline.rule_path_for(model_path)
    if next_to_it.is_file():
        return decline.load_rule(next_to_it)
    if model_path.resolve() == DEFAULT_MODEL.resolve() and model_path.is_file():
        raise DeclineRuleError(f"the deployed model's decline rule is missing: {next_to_it}")
    return None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr (TensorFlow's start-up lines) while importing and loading."""
    try:
        saved = os.dup(2)
    except OSError:  # no real file descriptor (e.g. inside some notebook front ends)
        yield
        return
    with open(os.devnull, "w") as devnull:
        sys.stderr.flush()
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def decide(probabilities: np.ndarray, rule: DeclineRule | None) -> Decision:
    """The decision for one image's model probabilities; ``rule`` None always answers."""
    return decline.decide(probabilities, rule or decline.always_answer(len(probabilities)))


def describe(path: str, decision: Decision) -> dict[str, object]:
    """The result for one image: the answer (or why not), the top guess and the runner-up."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(float(value), 4)

    probabilities = decision.digit_probabilities
    return {
        "path": path,
        "digit": decision.digit,
        "declined": decision.declined,
        "probability": None if decision.digit is None else rounded(decision.top_probability),
        "top_guess": decision.top_guess,
        "top_guess_probability": rounded(decision.top_probability),
        "runner_up": decision.runner_up,
        "runner_up_probability": rounded(probabilities[decision.runner_up]),
        "not_digit_probability": rounded(decision.not_digit),
        "probabilities": [rounded(p) for p in probabilities],
    }


def format_line(result: dict[str, object]) -> str:
    """The human-readable line for one result."""
    top = f"{result['top_guess']} ({100 * result['top_guess_probability']:.1f}%)"
    runner_up = f"runner-up {result['runner_up']} ({100 * result['runner_up_probability']:.1f}%)"
    if result["declined"] == decline.NOT_A_DIGIT:
        return (f"{result['path']}: not a digit ({100 * result['not_digit_probability']:.1f}%); "
                f"top guess {result['top_guess']} "
                f"({100 * result['top_guess_probability']:.1f}% among the digits)")
    if result["declined"] == decline.NOT_SURE:
        return f"{result['path']}: not sure; top guess {top}, {runner_up}"
    return f"{result['path']}: {top}, {runner_up}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = parse_args(argv)
    model_path = args.model if args.model is not None else default_model()
    rule = None
    if not args.always_answer:
        try:
            rule = model_rule(model_path, args.rule)
        except DeclineRuleError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    from helpers.preprocess import PreprocessError, to_batch, to_mnist

    images, paths, failed = [], [], 0
    for path in args.images:
        try:
            images.append(to_mnist(path))
            paths.append(path)
        except PreprocessError as error:
            message = str(error) if str(path) in str(error) else f"{path}: {error}"
            print(f"error: {message}", file=sys.stderr)
            failed += 1
    if not images:
        return 1

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before TensorFlow is imported: results only
    with _quiet_stderr():
        from helpers.artifacts import ModelFileError, load_model

        try:
            model = load_model(model_path)
        except ModelFileError as error:
            model, message = None, str(error).splitlines()[0]
    if model is None:
        print(f"error: {message}", file=sys.stderr)
        return 2
    classes = int(model.outputs[0].shape[-1])
    if rule is not None and rule.classes != classes:
        print(f"error: the decline rule is for {rule.classes} classes, the model {model_path} "
              f"has {classes} outputs", file=sys.stderr)
        return 2
    with _quiet_stderr():
        probabilities = model.predict(to_batch(images), verbose=0)
    for path, row in zip(paths, probabilities, strict=True):
        result = describe(path, decide(row, rule))
        print(json.dumps(result) if args.json else format_line(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
