"""What a model's probabilities mean, and when it should decline.

- :func:`logits` - the scores a Keras classifier computes before its softmax;
- :func:`negative_log_likelihood`, :func:`expected_calibration_error` and
  :func:`reliability` - how far its probabilities are from the frequencies they claim;
- :func:`fit_temperature` - temperature scaling (Guo et al., 2017): one number ``T`` that
  divides the logits, fitted on the validation split to minimise the negative
  log-likelihood; it changes confidences, never the predicted class;
- :func:`energy` - the energy score (Liu et al., 2020), ``-T log sum(exp(logits / T))``;
- :func:`coverage_row` - for a decline rule applied to a set of images: what share is
  answered, and how often the answered ones are right.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special

EPSILON = 1e-12


def logits(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The pre-softmax scores of ``model`` (its last layer must be a Dense with softmax).

    Computed as the output of the layer before the last, times the last layer's kernel,
    plus its bias: exactly what the softmax receives."""
    import keras

    last = model.layers[-1]
    features = keras.Model(model.inputs, last.input)
    hidden = features.predict(images, batch_size=batch_size, verbose=0)
    kernel, bias = (np.asarray(weight) for weight in last.get_weights())
    return hidden @ kernel + bias


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from scores divided by ``temperature``."""
    return special.softmax(np.asarray(scores, dtype=np.float64) / temperature, axis=1)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean of -log(probability of the true class): lower is better, 0 is perfect."""
    rows = np.arange(len(labels))
    return float(-np.log(np.clip(probabilities[rows, labels], EPSILON, 1.0)).mean())


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> pd.DataFrame:
    """Predictions grouped by confidence (the top probability) into equal-width bins: per
    bin the count, mean confidence and accuracy (empty bins left out)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for index in range(bins):
        inside = which == index
        if inside.any():
            rows.append({"low": edges[index], "high": edges[index + 1], "count": int(inside.sum()),
                         "confidence": float(confidence[inside].mean()),
                         "accuracy": float(correct[inside].mean())})
    return pd.DataFrame(rows)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = 15) -> float:
    """ECE: the gap |accuracy - confidence| of each confidence bin, weighted by its share
    of the images (0 is perfectly calibrated)."""
    table = reliability(probabilities, labels, bins)
    return float((table["count"] * (table["accuracy"] - table["confidence"]).abs()).sum()
                 / len(labels))


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``softmax(scores / T)``
    on these (validation) images, searched on log T between 0.05 and 20."""
    def loss(log_temperature: float) -> float:
        return negative_log_likelihood(softmax(scores, np.exp(log_temperature)), labels)

    result = optimize.minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)),
                                      method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def energy(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The energy score ``-T log sum_k exp(score_k / T)``: lower (more negative) when the
    network's scores are large, which they tend to be for inputs like its training data."""
    return -temperature * special.logsumexp(np.asarray(scores, np.float64) / temperature,
                                            axis=1)


def coverage_row(answered: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
    """Share answered; for digits (``correct`` given, one bool per image) the accuracy of
    the answered ones and the share of all images answered right."""
    answered = np.asarray(answered, dtype=bool)
    row = {"images": int(answered.size), "answered": float(answered.mean())}
    if correct is None:
        row["declined"] = 1.0 - row["answered"]
        return row
    correct = np.asarray(correct, dtype=bool)
    row["right among answered"] = float(correct[answered].mean()) if answered.any() else np.nan
    row["answered and right"] = float((correct & answered).mean())
    return row
