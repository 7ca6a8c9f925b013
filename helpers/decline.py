"""Declining to answer: the deployed model's rule for "not sure" and "not a digit".

The deployed model (``models/deployed_cnn.keras``) gives K = 10 class probabilities (the
digits) or K = 11 (the digits, then "not a digit"). A notebook chooses, on validation
images and on home-made non-digits, a temperature and thresholds, and writes them next to
the model as ``models/deployed_cnn.decline.json``::

    {"temperature": 1.7, "min_confidence": 0.8, "max_not_digit": 0.5, "classes": 11}

The rule, for the probabilities ``p`` of one image:

1. temperature scaling over all K classes: ``q = softmax(log(p) / temperature)``;
2. when K == 11 and ``max_not_digit`` is not null: declined as "not a digit" if
   ``q[10] >= max_not_digit``;
3. otherwise the digit probabilities are ``q[:10] / sum(q[:10])``; declined as "not sure"
   if the largest one is below ``min_confidence``, else answered with that digit.

:func:`decide` applies it; :func:`load_rule` reads and checks a rule file. The website's demo
applies the same rule in JavaScript (``site/demo/decline.js``), and tests/test_decline.py
checks that the two agree. The arithmetic is done in Python floats (float64), summing left
to right, as JavaScript does, so that both give the same numbers.

Keys other than the four above (a note on where the rule came from, say) are allowed in
the file and ignored.

This module imports neither TensorFlow nor Keras: ``python -m helpers.predict --help``
stays quick.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

NOT_A_DIGIT = "not a digit"
"""The reason given when the "not a digit" probability reaches its threshold (K == 11)."""
NOT_SURE = "not sure"
"""The reason given when the most probable digit is below ``min_confidence``."""

Reason = Literal["not a digit", "not sure"]
DIGITS = 10
"""The first ten classes are the digits 0-9; an 11th class, when present, is "not a digit"."""


class DeclineRuleError(ValueError):
    """A decline rule (a JSON file or a dictionary) that is missing, malformed or out of range."""


@dataclass(frozen=True)
class DeclineRule:
    """When the deployed model declines to answer (see the module's docstring)."""

    temperature: float
    """T > 0 in ``q = softmax(log(p) / T)``; 1 leaves the probabilities unchanged."""
    min_confidence: float
    """The smallest top digit probability (after scaling) that is still answered, in [0, 1]."""
    max_not_digit: float | None
    """For K == 11: "not a digit" when ``q[10]`` reaches this value, in (0, 1]; None never."""
    classes: int
    """K, the number of the model's outputs: 10 (digits) or 11 (digits, then "not a digit")."""

    def __post_init__(self) -> None:
        check_rule(self)

    def to_dict(self) -> dict[str, object]:
        """The rule as the JSON object of a rule file."""
        return {"temperature": self.temperature, "min_confidence": self.min_confidence,
                "max_not_digit": self.max_not_digit, "classes": self.classes}


def always_answer(classes: int = DIGITS) -> DeclineRule:
    """The rule that never declines and leaves the probabilities unchanged (T = 1, no
    thresholds): the behaviour of the predict command before issue 22 (``--always-answer``)."""
    return DeclineRule(temperature=1.0, min_confidence=0.0, max_not_digit=None, classes=classes)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_rule(rule: DeclineRule) -> None:
    """Raise :class:`DeclineRuleError` naming the first value of ``rule`` out of range."""
    if not _is_number(rule.temperature) or rule.temperature <= 0:
        raise DeclineRuleError(f"temperature must be a number > 0, not {rule.temperature!r}")
    if not _is_number(rule.min_confidence) or not 0 <= rule.min_confidence <= 1:
        raise DeclineRuleError(
            f"min_confidence must be a number from 0 to 1, not {rule.min_confidence!r}")
    if isinstance(rule.classes, bool) or rule.classes not in (DIGITS, DIGITS + 1):
        raise DeclineRuleError(f"classes must be 10 or 11 (the model's outputs), "
                               f"not {rule.classes!r}")
    if rule.max_not_digit is not None:
        if rule.classes == DIGITS:
            raise DeclineRuleError("max_not_digit must be null for a model with 10 classes "
                                   "(it has no \"not a digit\" output)")
        if not _is_number(rule.max_not_digit) or not 0 < rule.max_not_digit <= 1:
            raise DeclineRuleError(f"max_not_digit must be null or a number above 0 and at "
                                   f"most 1, not {rule.max_not_digit!r}")


FIELDS = ("temperature", "min_confidence", "max_not_digit", "classes")


def rule_from_dict(values: Mapping[str, object]) -> DeclineRule:
    """A :class:`DeclineRule` from a rule file's JSON object; extra keys are ignored."""
    if not isinstance(values, Mapping):
        raise DeclineRuleError(f"a decline rule is a JSON object with the keys {', '.join(FIELDS)}"
                               f"; got {type(values).__name__}")
    missing = [key for key in FIELDS if key not in values]
    if missing:
        raise DeclineRuleError(f"the decline rule lacks {', '.join(missing)} "
                               f"(it needs {', '.join(FIELDS)})")
    return DeclineRule(**{key: values[key] for key in FIELDS})  # type: ignore[arg-type]


def rule_path_for(model_path: str | Path) -> Path:
    """Where a model's rule lives: ``NAME.decline.json`` next to ``NAME.keras``."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.decline.json")


def load_rule(path: str | Path) -> DeclineRule:
    """Read and check a rule file; :class:`DeclineRuleError` names the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeclineRuleError(f"decline rule not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DeclineRuleError(f"{path} could not be read as a decline rule: {error}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise DeclineRuleError(f"{path} is not valid JSON ({error})") from None
    try:
        return rule_from_dict(values)
    except DeclineRuleError as error:
        raise DeclineRuleError(f"{path}: {error}") from None


def save_rule(rule: DeclineRule, path: str | Path) -> Path:
    """Write ``rule`` as a rule file (the format :func:`load_rule` reads); return the path."""
    path = Path(path)
    path.write_text(json.dumps(rule.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Decision:
    """What the deployed model says about one image."""

    digit: int | None
    """The answer, 0-9, or None when declined."""
    declined: Reason | None
    """"not a digit", "not sure", or None when answered."""
    top_guess: int
    """The most probable digit (after temperature scaling), whether answered or not."""
    top_probability: float
    """Its probability among the digits: ``digit_probabilities[top_guess]``."""
    digit_probabilities: tuple[float, ...]
    """The ten digit probabilities after temperature scaling, summing to 1."""
    not_digit: float | None
    """``q[10]``, the scaled probability of "not a digit" (K == 11), else None."""

    @property
    def runner_up(self) -> int:
        """The second most probable digit."""
        return _order(self.digit_probabilities)[1]


def _order(values: Sequence[float]) -> list[int]:
    """Indices from the largest value to the smallest; ties keep the lower index first."""
    return sorted(range(len(values)), key=lambda index: (-values[index], index))


def scaled(probabilities: Sequence[float], temperature: float) -> list[float]:
    """``softmax(log(p) / T)``: temperature scaling of probabilities. A probability of 0 stays 0."""
    logits = [math.log(p) / temperature if p > 0 else -math.inf for p in probabilities]
    top = max(logits)
    exponentials = [math.exp(value - top) for value in logits]
    total = 0.0
    for value in exponentials:  # left to right, as JavaScript does
        total += value
    return [value / total for value in exponentials]


def decide(probabilities: Sequence[float], rule: DeclineRule) -> Decision:
    """Apply ``rule`` to one image's K model probabilities (a sequence or a 1-D array)."""
    values = [float(p) for p in probabilities]
    if len(values) != rule.classes:
        raise ValueError(f"{len(values)} probabilities for a rule of {rule.classes} classes")
    if not all(math.isfinite(p) and p >= 0 for p in values) or not any(p > 0 for p in values):
        raise ValueError(f"not probabilities: {values}")
    q = scaled(values, rule.temperature)
    not_digit = q[DIGITS] if rule.classes > DIGITS else None
    digit_total = 0.0
    for value in q[:DIGITS]:
        digit_total += value
    if digit_total > 0:
        digits = tuple(value / digit_total for value in q[:DIGITS])
    else:  # everything on "not a digit": no digit is more likely than another
        digits = (1.0 / DIGITS,) * DIGITS
    top = _order(digits)[0]
    declined: Reason | None = None
    if not_digit is not None and rule.max_not_digit is not None and not_digit >= rule.max_not_digit:
        declined = NOT_A_DIGIT
    elif digits[top] < rule.min_confidence:
        declined = NOT_SURE
    return Decision(
        digit=None if declined else top,
        declined=declined,
        top_guess=top,
        top_probability=digits[top],
        digit_probabilities=digits,
        not_digit=not_digit,
    )
