"""Looking at predictions: errors, confusions, per-class scores (introduced in notebook 04)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from helpers.data import NUM_CLASSES


def predictions(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its probability (the model's confidence) for every row."""
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=1)
    return predicted, probabilities[np.arange(len(predicted)), predicted]


def misclassified_indices(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Indices where the prediction differs from the true label, in dataset order."""
    return np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """10x10 confusion matrix: rows are true digits, columns predicted digits."""
    return confusion_matrix(y_true, y_pred, labels=np.arange(NUM_CLASSES))


def most_confused_pairs(matrix: np.ndarray, top: int = 5) -> pd.DataFrame:
    """The ``top`` off-diagonal cells of a confusion matrix, largest first."""
    matrix = np.asarray(matrix)
    rows = [
        {"true": t, "predicted": p, "count": int(matrix[t, p])}
        for t in range(matrix.shape[0])
        for p in range(matrix.shape[1])
        if t != p and matrix[t, p] > 0
    ]
    table = pd.DataFrame(rows, columns=["true", "predicted", "count"])
    table = table.sort_values(["count", "true", "predicted"], ascending=[False, True, True])
    return table.head(top).reset_index(drop=True)


def per_class_report(y_true: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support for each digit, one row per digit."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(NUM_CLASSES), zero_division=0
    )
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support},
        index=pd.Index(np.arange(NUM_CLASSES), name="digit"),
    )


def least_confident_correct(
    probabilities: np.ndarray, y_true: np.ndarray, count: int = 16
) -> np.ndarray:
    """Indices of the correctly classified examples with the lowest confidence, lowest first."""
    predicted, confidence = predictions(probabilities)
    correct = np.flatnonzero(predicted == np.asarray(y_true))
    return correct[np.argsort(confidence[correct], kind="stable")[:count]]


def most_confident_wrong(
    probabilities: np.ndarray, y_true: np.ndarray, count: int = 16
) -> np.ndarray:
    """Indices of misclassified examples, the most confidently wrong first."""
    predicted, confidence = predictions(probabilities)
    wrong = misclassified_indices(y_true, predicted)
    return wrong[np.argsort(-confidence[wrong], kind="stable")[:count]]
