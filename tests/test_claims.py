"""Claims checked by code (helpers.claims): intervals, McNemar's test, and the full-mode stop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from helpers import claims, config


def test_paired_interval_matches_the_formula():
    a, b = [0.9931, 0.9934, 0.9930], [0.9911, 0.9912, 0.9909]
    result = claims.compare(a, b, "five", "four")
    d = (np.array(a) - np.array(b)) * 100
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert result.difference == pytest.approx(d.mean())
    assert (result.low, result.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert result.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert result.verdict() == "better"
    assert claims.compare(b, a, "four", "five").verdict() == "worse"


def test_pairing_removes_what_the_seed_does_to_both():
    seed_effect = np.array([0.0, 0.004, -0.004])
    a, b = 0.990 + seed_effect + 0.001, 0.990 + seed_effect
    assert claims.compare(a, b, "a", "b").verdict() == "better"
    assert claims.compare(a, b, "a", "b", paired=False).verdict() == "no measurable difference"


def test_welch_matches_scipy():
    a, b = [0.991, 0.993, 0.992, 0.994], [0.990, 0.989, 0.991]
    result = claims.compare(a, b, "a", "b", paired=False)
    assert result.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_paired_needs_matching_runs():
    with pytest.raises(ValueError, match="paired"):
        claims.compare([0.9, 0.91], [0.9], "a", "b")


def test_mcnemar_counts_and_exact_p():
    correct_a = np.array([True] * 90 + [True] * 8 + [False] * 1 + [False] * 1)
    correct_b = np.array([True] * 90 + [False] * 8 + [True] * 1 + [False] * 1)
    result = claims.mcnemar(correct_a, correct_b, "a", "b")
    assert (result.only_a_right, result.only_b_right, result.both_wrong) == (8, 1, 1)
    assert result.p_value == pytest.approx(stats.binomtest(8, 9, 0.5).pvalue)
    assert result.verdict() == "better"
    assert claims.mcnemar(correct_a, correct_a, "a", "a").verdict() == "no measurable difference"


def test_claim_stops_the_course_run_warns_a_learner_and_only_prints_in_quick_mode(
        monkeypatch, capsys):
    result = claims.compare([0.99, 0.991, 0.992], [0.99, 0.992, 0.990], "a", "b")
    assert result.verdict() == "no measurable difference"
    monkeypatch.setenv(config.QUICK_ENV, "1")
    monkeypatch.setenv(config.COURSE_RUN_ENV, "1")
    claims.claim(result, "better")
    assert "DOES NOT HOLD" in capsys.readouterr().out
    monkeypatch.delenv(config.QUICK_ENV)
    claims.claim(result, "no measurable difference")
    with pytest.raises(claims.ClaimError, match="does not hold"):
        claims.claim(result, "better")
    monkeypatch.delenv(config.COURSE_RUN_ENV)
    with pytest.warns(claims.ClaimWarning, match="not this one"):
        claims.claim(result, "better")
    with pytest.raises(ValueError):
        claims.claim(result, "much better")
