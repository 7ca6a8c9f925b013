/*
 * Declining to answer, in the browser: the JavaScript twin of helpers/decline.py (notebook 09).
 *
 * The rule file (models/deployed_cnn.decline.json, copied into the built site) holds
 *   {"temperature": T, "min_confidence": c, "max_not_digit": n or null, "classes": K}
 * and, for the K probabilities p of one drawing:
 *   q = softmax(log(p) / T) over all K classes;
 *   "not a digit" if K == 11 and q[10] >= n;
 *   else the digit probabilities are q[0..9] / sum(q[0..9]), and "not sure" if the largest
 *   is below c; else the answer is that digit.
 *
 * Same arithmetic as Python (float64, sums left to right, ties to the lower digit), so that
 * tests/test_decline.py can check that both give the same decisions and numbers. Works in a
 * page (window.DigitsDecline) and in Node (module.exports), which the test uses.
 */
(function (root) {
  "use strict";

  const DIGITS = 10;
  const NOT_A_DIGIT = "not a digit";
  const NOT_SURE = "not sure";
  const FIELDS = ["temperature", "min_confidence", "max_not_digit", "classes"];

  function isNumber(value) {
    return typeof value === "number" && Number.isFinite(value);
  }

  /** A checked rule from a rule file's JSON object (extra keys are ignored); throws an Error
   * naming the problem, with the same checks as helpers.decline.check_rule. */
  function ruleFromObject(values) {
    if (values === null || typeof values !== "object" || Array.isArray(values)) {
      throw new Error(`a decline rule is a JSON object with the keys ${FIELDS.join(", ")}`);
    }
    const missing = FIELDS.filter((key) => !(key in values));
    if (missing.length) {
      throw new Error(`the decline rule lacks ${missing.join(", ")} (it needs ${FIELDS.join(", ")})`);
    }
    const rule = {
      temperature: values.temperature, minConfidence: values.min_confidence,
      maxNotDigit: values.max_not_digit, classes: values.classes,
    };
    if (!isNumber(rule.temperature) || rule.temperature <= 0) {
      throw new Error(`temperature must be a number > 0, not ${JSON.stringify(rule.temperature)}`);
    }
    if (!isNumber(rule.minConfidence) || rule.minConfidence < 0 || rule.minConfidence > 1) {
      throw new Error(`min_confidence must be a number from 0 to 1, not ${JSON.stringify(rule.minConfidence)}`);
    }
    if (rule.classes !== DIGITS && rule.classes !== DIGITS + 1) {
      throw new Error(`classes must be 10 or 11 (the model's outputs), not ${JSON.stringify(rule.classes)}`);
    }
    if (rule.maxNotDigit !== null) {
      if (rule.classes === DIGITS) {
        throw new Error('max_not_digit must be null for a model with 10 classes (it has no "not a digit" output)');
      }
      if (!isNumber(rule.maxNotDigit) || rule.maxNotDigit <= 0 || rule.maxNotDigit > 1) {
        throw new Error(`max_not_digit must be null or a number above 0 and at most 1, not ${JSON.stringify(rule.maxNotDigit)}`);
      }
    }
    return rule;
  }

  /** softmax(log(p) / T); a probability of 0 stays 0. */
  function scaled(probabilities, temperature) {
    const logits = probabilities.map((p) => (p > 0 ? Math.log(p) / temperature : -Infinity));
    const top = Math.max(...logits);
    const exponentials = logits.map((value) => Math.exp(value - top));
    let total = 0;
    for (const value of exponentials) total += value;
    return exponentials.map((value) => value / total);
  }

  /** Indices from the largest value to the smallest; ties keep the lower index first. */
  function order(values) {
    return values.map((_, index) => index).sort((a, b) => values[b] - values[a] || a - b);
  }

  /** The decision for one drawing's K model probabilities (an array or a typed array):
   * {digit (null when declined), declined ("not a digit", "not sure" or null), topGuess,
   * topProbability, runnerUp, digitProbabilities (ten, summing to 1), notDigit (q[10] or null)}. */
  function decide(probabilities, rule) {
    const values = Array.from(probabilities, Number);
    if (values.length !== rule.classes) {
      throw new Error(`${values.length} probabilities for a rule of ${rule.classes} classes`);
    }
    if (!values.every((p) => Number.isFinite(p) && p >= 0) || !values.some((p) => p > 0)) {
      throw new Error(`not probabilities: ${values}`);
    }
    const q = scaled(values, rule.temperature);
    const notDigit = rule.classes > DIGITS ? q[DIGITS] : null;
    let digitTotal = 0;
    for (const value of q.slice(0, DIGITS)) digitTotal += value;
    const digits = digitTotal > 0
      ? q.slice(0, DIGITS).map((value) => value / digitTotal)
      : new Array(DIGITS).fill(1 / DIGITS);
    const ranked = order(digits);
    const top = ranked[0];
    let declined = null;
    if (notDigit !== null && rule.maxNotDigit !== null && notDigit >= rule.maxNotDigit) {
      declined = NOT_A_DIGIT;
    } else if (digits[top] < rule.minConfidence) {
      declined = NOT_SURE;
    }
    return {
      digit: declined ? null : top, declined, topGuess: top, topProbability: digits[top],
      runnerUp: ranked[1], digitProbabilities: digits, notDigit,
    };
  }

  /** The rule that never declines (T = 1, no thresholds), for a build without a rule file. */
  function alwaysAnswer(classes = DIGITS) {
    return ruleFromObject({ temperature: 1, min_confidence: 0, max_not_digit: null, classes });
  }

  const api = { NOT_A_DIGIT, NOT_SURE, ruleFromObject, scaled, decide, alwaysAnswer };
  root.DigitsDecline = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
