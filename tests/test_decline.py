"""Tests of the decline rule (helpers/decline.py) and of its JavaScript twin (site/demo/decline.js).

The cases are worked out by hand: temperatures of 1 and 2 on probabilities whose logarithms
halve into round numbers (0.64 and 0.36 become 0.8 and 0.6 before normalising).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

from helpers import decline
from helpers.config import REPO_ROOT
from helpers.decline import NOT_A_DIGIT, NOT_SURE, DeclineRule, DeclineRuleError, decide

DECLINE_JS = REPO_ROOT / "site" / "demo" / "decline.js"


def digits(*head: float, classes: int = 10, not_digit: float | None = None) -> list[float]:
    """Probabilities starting with ``head``, zeros after, and "not a digit" last when K == 11."""
    values = [*head] + [0.0] * (10 - len(head))
    return values + [not_digit or 0.0] if classes == 11 else values


def rule(temperature=1.0, min_confidence=0.5, max_not_digit=None, classes=10) -> DeclineRule:
    return DeclineRule(temperature, min_confidence, max_not_digit, classes)


# K = 10 ------------------------------------------------------------------------------------

def test_a_confident_digit_is_answered() -> None:
    decision = decide(digits(0.1, 0.7, 0.1, 0.1), rule())
    assert (decision.digit, decision.declined, decision.top_guess) == (1, None, 1)
    assert decision.top_probability == pytest.approx(0.7)
    assert decision.runner_up == 0  # 0.1 three times: the lowest digit first
    assert decision.not_digit is None
    assert sum(decision.digit_probabilities) == pytest.approx(1.0)


def test_an_unsure_digit_is_declined_with_its_top_guess() -> None:
    decision = decide(digits(0.4, 0.3, 0.3), rule(min_confidence=0.5))
    assert (decision.digit, decision.declined, decision.top_guess) == (None, NOT_SURE, 0)
    assert decision.top_probability == pytest.approx(0.4)


def test_temperature_two_takes_square_roots() -> None:
    # log(p) / 2 -> q proportional to sqrt(p): 0.8 and 0.6, so 4/7 and 3/7
    probabilities = digits(0.0, 0.0, 0.64, 0.36)
    answered = decide(probabilities, rule(temperature=2.0, min_confidence=0.5))
    assert (answered.digit, answered.top_guess) == (2, 2)
    assert answered.digit_probabilities[2] == pytest.approx(4 / 7)
    assert answered.digit_probabilities[3] == pytest.approx(3 / 7)
    assert answered.digit_probabilities[0] == 0.0  # a probability of 0 stays 0
    declined = decide(probabilities, rule(temperature=2.0, min_confidence=0.6))
    assert (declined.digit, declined.declined, declined.top_guess) == (None, NOT_SURE, 2)
    # at T = 1 the same image is answered at 0.64
    assert decide(probabilities, rule(min_confidence=0.6)).digit == 2


def test_the_threshold_itself_is_answered_and_ties_go_to_the_lower_digit() -> None:
    decision = decide(digits(0.0, 0.5, 0.5), rule(min_confidence=0.5))
    assert (decision.digit, decision.top_probability, decision.runner_up) == (1, 0.5, 2)


def test_the_always_answer_rule_keeps_the_model_probabilities() -> None:
    probabilities = np.array([0.05, 0.05, 0.02, 0.08, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1], np.float32)
    decision = decide(probabilities, decline.always_answer())
    assert decision.digit == 4 and decision.declined is None
    assert np.allclose(decision.digit_probabilities, probabilities / probabilities.sum())


# K = 11 ------------------------------------------------------------------------------------

def test_not_a_digit_when_its_probability_reaches_the_threshold() -> None:
    decision = decide(digits(0.1, classes=11, not_digit=0.9),
                      rule(min_confidence=0.5, max_not_digit=0.5, classes=11))
    assert (decision.digit, decision.declined, decision.top_guess) == (None, NOT_A_DIGIT, 0)
    assert decision.not_digit == pytest.approx(0.9)
    assert decision.top_probability == pytest.approx(1.0)  # 0.1 / 0.1 among the digits
    # exactly at the threshold is declined too
    at = decide(digits(0.5, classes=11, not_digit=0.5), rule(max_not_digit=0.5, classes=11))
    assert at.declined == NOT_A_DIGIT and at.not_digit == 0.5


def test_digit_probabilities_are_renormalised_without_not_a_digit() -> None:
    decision = decide(digits(0.6, 0.2, classes=11, not_digit=0.2),
                      rule(min_confidence=0.7, max_not_digit=0.5, classes=11))
    assert (decision.digit, decision.declined) == (0, None)
    assert decision.digit_probabilities[:2] == pytest.approx((0.75, 0.25))
    assert decision.not_digit == pytest.approx(0.2)
    unsure = decide(digits(0.6, 0.2, classes=11, not_digit=0.2),
                    rule(min_confidence=0.8, max_not_digit=0.5, classes=11))
    assert (unsure.digit, unsure.declined, unsure.top_guess) == (None, NOT_SURE, 0)


def test_temperature_applies_to_all_eleven_classes() -> None:
    # q proportional to sqrt(0.36), sqrt(0.64): q[10] = 0.8 / 1.4 = 4/7
    probabilities = digits(0.36, classes=11, not_digit=0.64)
    declined = decide(probabilities, rule(2.0, 0.5, 0.55, 11))
    assert declined.declined == NOT_A_DIGIT and declined.not_digit == pytest.approx(4 / 7)
    answered = decide(probabilities, rule(2.0, 0.5, 0.6, 11))
    assert (answered.digit, answered.declined) == (0, None)


def test_without_max_not_digit_an_eleven_class_model_never_says_not_a_digit() -> None:
    decision = decide(digits(0.08, 0.02, classes=11, not_digit=0.9), rule(min_confidence=0.7,
                                                                         classes=11))
    assert (decision.digit, decision.top_probability) == (0, pytest.approx(0.8))
    assert decision.not_digit == pytest.approx(0.9)


def test_all_probability_on_not_a_digit() -> None:
    decision = decide(digits(classes=11, not_digit=1.0), rule(max_not_digit=0.5, classes=11))
    assert decision.declined == NOT_A_DIGIT and decision.top_guess == 0
    assert decision.digit_probabilities == (0.1,) * 10


def test_bad_probabilities_are_refused() -> None:
    with pytest.raises(ValueError, match="11 probabilities for a rule of 10"):
        decide(digits(1.0, classes=11), rule())
    with pytest.raises(ValueError, match="not probabilities"):
        decide(digits(1.5, -0.5), rule())
    with pytest.raises(ValueError, match="not probabilities"):
        decide(digits(), rule())


# Rule files --------------------------------------------------------------------------------

def test_rule_files_round_trip_and_live_next_to_their_model(tmp_path) -> None:
    path = decline.rule_path_for(tmp_path / "deployed_cnn.keras")
    assert path == tmp_path / "deployed_cnn.decline.json"
    original = rule(1.7, 0.8, 0.5, 11)
    assert decline.load_rule(decline.save_rule(original, path)) == original
    with_note = {**original.to_dict(), "chosen_in": "notebook 09"}
    path.write_text(json.dumps(with_note))
    assert decline.load_rule(path) == original  # extra keys are ignored


BAD_RULES = {
    "missing key": ({"temperature": 1, "min_confidence": 0.5, "classes": 10},
                    "lacks max_not_digit"),
    "zero temperature": ({"temperature": 0, "min_confidence": 0.5, "max_not_digit": None,
                          "classes": 10}, "temperature must be a number > 0"),
    "text temperature": ({"temperature": "1.5", "min_confidence": 0.5, "max_not_digit": None,
                          "classes": 10}, "temperature must be a number"),
    "confidence above 1": ({"temperature": 1, "min_confidence": 1.5, "max_not_digit": None,
                            "classes": 10}, "min_confidence must be a number from 0 to 1"),
    "boolean confidence": ({"temperature": 1, "min_confidence": True, "max_not_digit": None,
                            "classes": 10}, "min_confidence must be a number"),
    "twelve classes": ({"temperature": 1, "min_confidence": 0.5, "max_not_digit": None,
                        "classes": 12}, "classes must be 10 or 11"),
    "not-a-digit threshold without its class": (
        {"temperature": 1, "min_confidence": 0.5, "max_not_digit": 0.5, "classes": 10},
        "max_not_digit must be null for a model with 10 classes"),
    "zero not-a-digit threshold": (
        {"temperature": 1, "min_confidence": 0.5, "max_not_digit": 0, "classes": 11},
        "max_not_digit must be null or a number above 0"),
    "a list": ([1, 0.5, None, 10], "a decline rule is a JSON object"),
}


@pytest.mark.parametrize("name", BAD_RULES)
def test_bad_rule_files_get_a_clear_error(tmp_path, name) -> None:
    values, message = BAD_RULES[name]
    path = tmp_path / "model.decline.json"
    path.write_text(json.dumps(values))
    with pytest.raises(DeclineRuleError, match=message) as error:
        decline.load_rule(path)
    assert str(path) in str(error.value)


def test_a_missing_or_broken_rule_file_is_named(tmp_path) -> None:
    with pytest.raises(DeclineRuleError, match="decline rule not found"):
        decline.load_rule(tmp_path / "absent.decline.json")
    broken = tmp_path / "broken.decline.json"
    broken.write_text('{"temperature": 1.5,')
    with pytest.raises(DeclineRuleError, match="is not valid JSON"):
        decline.load_rule(broken)


def test_the_module_does_not_need_tensorflow() -> None:
    import sys

    script = ("import sys, helpers.decline; "
              "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=60)
    assert result.stdout.strip() == "False False", result.stderr[-2000:]


# JavaScript twin (site/demo/decline.js) ---------------------------------------------------------

def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def fixed_cases() -> list[tuple[dict, list[float]]]:
    """Rules and probabilities to run through both implementations: the hand-worked ones and
    seeded random ones (peaked and flat, 10 and 11 classes, some with exact zeros)."""
    rules = [rule(1.0, 0.5).to_dict(), rule(2.0, 0.6).to_dict(), rule(0.7, 0.9).to_dict(),
             rule(1.7, 0.8, 0.5, 11).to_dict(), rule(1.3, 0.6, None, 11).to_dict(),
             rule(2.0, 0.5, 0.55, 11).to_dict(), decline.always_answer(11).to_dict()]
    cases = [(rules[0], digits(0.1, 0.7, 0.1, 0.1)), (rules[1], digits(0.0, 0.0, 0.64, 0.36)),
             (rules[0], digits(0.0, 0.5, 0.5)),
             (rules[5], digits(0.36, classes=11, not_digit=0.64)),
             (rules[3], digits(classes=11, not_digit=1.0))]
    generator = np.random.default_rng(22)
    for index in range(60):
        chosen = rules[index % len(rules)]
        concentration = 0.1 if index % 3 else 1.0
        values = generator.dirichlet([concentration] * chosen["classes"])
        if index % 5 == 0:
            values[generator.integers(chosen["classes"])] = 0.0
            values = values / values.sum()
        cases.append((chosen, [float(v) for v in values.astype(np.float32)]))
    return cases


def run_node(script: str, payload: object) -> object:
    node = shutil.which("node")
    if node is None:
        message = "node (Node.js) not found: the JavaScript decline rule cannot be checked"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([node, "-e", script, str(DECLINE_JS)], input=json.dumps(payload),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


NODE_DECIDE = """
const decline = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(([rule, p]) => decline.decide(p, decline.ruleFromObject(rule)));
process.stdout.write(JSON.stringify(out));
"""

NODE_RULES = """
const decline = require(process.argv[1]);
const rules = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = rules.map((values) => {
  try { decline.ruleFromObject(values); return null; } catch (error) { return error.message; }
});
process.stdout.write(JSON.stringify(out));
"""


def test_javascript_decides_like_python() -> None:
    cases = fixed_cases()
    results = run_node(NODE_DECIDE, cases)
    declined = set()
    for (values, probabilities), js in zip(cases, results, strict=True):
        python = decide(probabilities, decline.rule_from_dict(values))
        where = f"rule {values}, probabilities {probabilities}"
        assert (js["digit"], js["declined"], js["topGuess"], js["runnerUp"]) == (
            python.digit, python.declined, python.top_guess, python.runner_up), where
        assert js["digitProbabilities"] == pytest.approx(python.digit_probabilities,
                                                         rel=1e-12, abs=1e-15), where
        assert math.isclose(js["topProbability"], python.top_probability, rel_tol=1e-12)
        if python.not_digit is None:
            assert js["notDigit"] is None, where
        else:
            assert math.isclose(js["notDigit"], python.not_digit, rel_tol=1e-12), where
        declined.add(python.declined)
    assert declined == {None, NOT_SURE, NOT_A_DIGIT}  # the cases exercise every outcome


def test_javascript_refuses_the_rules_python_refuses() -> None:
    rules = [values for values, _ in BAD_RULES.values()] + [rule(1.7, 0.8, 0.5, 11).to_dict()]
    messages = run_node(NODE_RULES, rules)
    for values, message in zip(rules[:-1], messages[:-1], strict=True):
        with pytest.raises(DeclineRuleError) as python_error:
            decline.rule_from_dict(values)
        assert message is not None, f"JavaScript accepts {values}"
        assert message.split(",")[0].split(" (")[0] in str(python_error.value), (message, values)
    assert messages[-1] is None
