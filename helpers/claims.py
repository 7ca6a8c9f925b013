"""Claims checked by the code that makes them (notebooks 06, 07, 09 and 10).

A sentence such as "the one-cycle schedule beats a constant rate" rests on numbers that
move from seed to seed. This module turns such a sentence into a printed line and a check:

- :func:`compare` takes the scores of two settings, one per seed, and returns the
  difference of their means with its 95% confidence interval. When both were trained from
  the same seeds the comparison is *paired* (the interval comes from the per-seed
  differences, which removes what the seed does to both); otherwise Welch's interval for
  two independent samples is used.
- :func:`mcnemar` compares two models that were trained once each, on the same test
  digits: only the digits one model gets right and the other wrong carry information, and
  an exact binomial test on those two counts says whether the split is lopsided.
- :func:`claim` prints the comparison with what the prose says about it ("better",
  "worse" or "no measurable difference"). In the course's own run (``make course``) it
  raises :class:`ClaimError` when the numbers do not support the sentence, so that a rerun
  which breaks a sentence of the notebook stops instead of being committed. In a full run of
  your own it warns (:class:`ClaimWarning`): you changed something, and the sentence the
  notebook wrote about the course's run no longer describes yours. Quick mode (the tests)
  only prints: a few epochs on a subset cannot settle a claim.

A difference is "better" when its whole interval lies above zero, "worse" when it lies
below zero and "no measurable difference" when the interval covers zero.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from helpers.config import is_course_run, is_quick

SAYS = ("better", "worse", "no measurable difference")
"""What a sentence can say about a comparison."""


class ClaimError(AssertionError):
    """Raised in the course's own run when a stated claim is not supported by the numbers."""


class ClaimWarning(UserWarning):
    """Warned in a full run of your own when a stated claim does not hold for your run."""


warnings.simplefilter("always", ClaimWarning)


@dataclass(frozen=True)
class Comparison:
    """The difference ``a - b`` of two settings' mean scores, in percentage points."""

    a: str
    b: str
    metric: str
    difference: float
    low: float
    high: float
    runs: int
    method: str
    p_value: float
    unit: str = "points"

    def verdict(self) -> str:
        """"better" (interval above zero), "worse" (below) or "no measurable difference"."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "no measurable difference"

    def line(self) -> str:
        """One printed line: the difference, its interval and how it was computed."""
        return (f"{self.a} vs {self.b} ({self.metric}, {self.method}): "
                f"{self.difference:+.{self._digits()}f} {self.unit}, 95% interval "
                f"[{self.low:+.{self._digits()}f}, {self.high:+.{self._digits()}f}], "
                f"p = {self.p_value:.3f}")

    def _digits(self) -> int:
        return 2 if self.unit == "points" else 4


def _points(values: Sequence[float]) -> np.ndarray:
    """Accuracies as percentage points (0.9912 -> 99.12); values above 1 are taken as points."""
    array = np.asarray(values, dtype=np.float64)
    return array * 100 if np.all(array <= 1.0) else array


def compare(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str,
            metric: str = "validation accuracy", paired: bool = True,
            unit: str = "points") -> Comparison:
    """Compare two settings from their per-seed scores (accuracies in [0, 1] or in points).

    With ``unit="points"`` accuracies are shown in percentage points; any other ``unit``
    (e.g. ``"nats"`` for a per-image log-likelihood) compares the values as they are, and
    the pairs may then be images instead of seeds.

    ``paired=True`` needs the two lists in the same seed order: the interval is
    ``mean(d) +/- t(0.975, n-1) * sd(d) / sqrt(n)`` over the per-seed differences ``d`` and
    the p-value is the paired t-test's. ``paired=False`` uses Welch's interval and test.
    """
    if unit == "points":
        a_points, b_points = _points(a), _points(b)
    else:
        a_points, b_points = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if paired:
        if len(a_points) != len(b_points):
            raise ValueError(f"a paired comparison needs as many runs of {name_a!r} as of "
                             f"{name_b!r} (got {len(a_points)} and {len(b_points)})")
        if len(a_points) < 2:
            raise ValueError("a comparison over seeds needs at least two seeds per setting")
        differences = a_points - b_points
        count = len(differences)
        mean = float(differences.mean())
        spread = float(differences.std(ddof=1)) / math.sqrt(count)
        half = float(stats.t.ppf(0.975, count - 1)) * spread
        p_value = 1.0 if spread == 0 else float(2 * stats.t.sf(abs(mean) / spread, count - 1))
        if spread == 0 and mean != 0:
            p_value = 0.0
        pairs = "paired seeds" if unit == "points" else "pairs"
        return Comparison(name_a, name_b, metric, mean, mean - half, mean + half, count,
                          f"{count:,} {pairs}", p_value, unit)
    if len(a_points) < 2 or len(b_points) < 2:
        raise ValueError("Welch's comparison needs at least two runs of each setting")
    mean = float(a_points.mean() - b_points.mean())
    var_a = a_points.var(ddof=1) / len(a_points)
    var_b = b_points.var(ddof=1) / len(b_points)
    spread = math.sqrt(var_a + var_b)
    if spread == 0:
        dof = float(len(a_points) + len(b_points) - 2)
    else:
        dof = (var_a + var_b) ** 2 / (var_a**2 / (len(a_points) - 1)
                                      + var_b**2 / (len(b_points) - 1))
    half = float(stats.t.ppf(0.975, dof)) * spread
    p_value = (0.0 if mean != 0 else 1.0) if spread == 0 else float(
        2 * stats.t.sf(abs(mean) / spread, dof))
    return Comparison(name_a, name_b, metric, mean, mean - half, mean + half,
                      min(len(a_points), len(b_points)),
                      f"{len(a_points)} vs {len(b_points)} runs, Welch", p_value, unit)


@dataclass(frozen=True)
class McNemar:
    """Two models scored once each on the same images: where they disagree on correctness."""

    a: str
    b: str
    only_a_right: int
    only_b_right: int
    both_wrong: int
    p_value: float

    def verdict(self) -> str:
        """"better" / "worse" for ``a`` when the exact test gives p < 0.05, else no difference."""
        if self.p_value < 0.05:
            return "better" if self.only_a_right > self.only_b_right else "worse"
        return "no measurable difference"

    def line(self) -> str:
        return (f"{self.a} vs {self.b} (McNemar, same digits): {self.only_a_right} digits only "
                f"{self.a} gets right, {self.only_b_right} only {self.b}, {self.both_wrong} "
                f"both get wrong; exact p = {self.p_value:.3f}")


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray, name_a: str, name_b: str) -> McNemar:
    """McNemar's exact test: under "no difference" each digit that exactly one model gets
    right is equally likely to favour either, so the two counts follow Binomial(n, 1/2)."""
    correct_a = np.asarray(correct_a, dtype=bool)
    correct_b = np.asarray(correct_b, dtype=bool)
    if correct_a.shape != correct_b.shape:
        raise ValueError("McNemar's test needs both models scored on the same images")
    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((~correct_a & correct_b).sum())
    both_wrong = int((~correct_a & ~correct_b).sum())
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(
        stats.binomtest(only_a, discordant, 0.5).pvalue)
    return McNemar(name_a, name_b, only_a, only_b, both_wrong, p_value)


def claim(result: Comparison | McNemar, says: str) -> Comparison | McNemar:
    """Print ``result`` with what the prose ``says`` about it. When the numbers do not
    support it: raise :class:`ClaimError` in the course's own run, warn in a full run of your
    own, only print in quick mode. Returns ``result``."""
    if says not in SAYS:
        raise ValueError(f"a claim says one of {SAYS}, not {says!r}")
    return enforce(result, says)


def enforce(result, says: str, sentence: str | None = None, evidence: str = "numbers"):
    """What every ``claim`` function does once ``says`` is known to be one of its words:
    print ``result.line()`` with the ``sentence`` (default: ``says``) and whether
    ``result.verdict() == says``; when it does not hold, raise :class:`ClaimError` in the
    course's own run, warn (:class:`ClaimWarning`) in a full run of your own, and only print
    in quick mode. ``evidence`` names what disagrees in the message ("numbers", "rounds").
    Returns ``result``."""
    sentence = says if sentence is None else sentence
    holds = result.verdict() == says
    status = "holds" if holds else "DOES NOT HOLD"
    print(f"{result.line()}\n  claim: {sentence} -> {status}")
    if holds or is_quick():
        return result
    message = (f"the claim '{sentence}' does not hold: {result.line()} "
               f"(the {evidence} say: {result.verdict()})")
    if is_course_run():
        raise ClaimError(message)
    warnings.warn(message + "; the notebook's text describes the course's run, not this one",
                  ClaimWarning, stacklevel=3)
    return result


def log_ratio_interval(numerator, denominator) -> tuple[float, float, float, float]:
    """Paired ratio of two positive measurements (seconds of the same seeds or rounds):
    ``(ratio, low, high, p)``, the geometric mean of ``numerator_i / denominator_i`` with the
    95% t interval of the mean log ratio turned back into a ratio, and the two-sided p of
    the log ratios' mean being 0. Times multiply rather than add (a busy machine slows every
    step by a factor), which is why the logs are averaged. Needs at least two pairs."""
    logs = (np.log(np.asarray(numerator, dtype=np.float64))
            - np.log(np.asarray(denominator, dtype=np.float64)))
    if len(logs) < 2:
        raise ValueError("a paired ratio needs at least two pairs")
    mean, spread = float(logs.mean()), float(logs.std(ddof=1)) / math.sqrt(len(logs))
    half = float(stats.t.ppf(0.975, len(logs) - 1)) * spread
    p_value = (0.0 if mean else 1.0) if spread == 0 else float(
        2 * stats.t.sf(abs(mean) / spread, len(logs) - 1))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half), p_value
