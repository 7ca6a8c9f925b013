"""Plot functions return labelled figures; analysis functions on a known small case."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from helpers import analysis, plots
from tests.helpers_for_tests import fake_digits


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path))
    return tmp_path


def test_digit_grid_colours_right_and_wrong():
    images, labels = fake_digits(10)
    predicted = labels.copy()
    predicted[3] = 7
    fig = plots.plot_digit_grid(images, labels, predicted, np.full(10, 0.9), columns=5, title="t")
    axes = fig.axes
    assert len(axes) == 10
    assert axes[3].get_title() == "true 3\npred 7 (90%)"
    assert axes[3].title.get_color() == plots.WRONG_COLOUR
    assert axes[0].title.get_color() == plots.CORRECT_COLOUR
    assert fig._suptitle.get_text() == "t"


def test_history_plot_has_two_labelled_axes():
    history = {"loss": [1, 0.5], "val_loss": [0.9, 0.6], "accuracy": [0.6, 0.8],
               "val_accuracy": [0.7, 0.85]}
    fig = plots.plot_history(history)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "Epoch" and acc_ax.get_ylabel() == "Accuracy"
    assert [line.get_label() for line in loss_ax.get_lines()[:2]] == ["training", "validation"]


def test_confusion_plot_and_save(scratch):
    matrix = np.eye(10, dtype=int) * 10
    matrix[4, 9] = 3
    fig = plots.plot_confusion_matrix(matrix)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Predicted digit" and ax.get_ylabel() == "True digit"
    path = plots.save_figure(fig, "cm")
    assert path == scratch / "figures" / "cm.png" and path.stat().st_size > 1000


def test_class_counts_plot():
    fig = plots.plot_class_counts({"train": range(10), "test": range(10)})
    assert fig.axes[0].get_legend() is not None and len(fig.axes[0].patches) == 20



@pytest.mark.parametrize("size,kernel", [(5, 3), (6, 3), (7, 5)])
def test_padding_and_stride_boxes_stay_inside_the_grid(size, kernel):
    """Every outlined filter position lies within the pixels it covers: inside the input under
    "valid", inside the zero-padded grid under "same", never over the grid's edge."""
    fig = plots.plot_padding_and_stride(size=size, kernel=kernel)
    grids = [size, size + 2 * (kernel // 2), size]  # valid, same (padded), valid with stride 2
    for ax, grid in zip(fig.axes, grids, strict=True):
        boxes = [patch for patch in ax.patches if not patch.get_fill()]
        assert 2 <= len(boxes) <= 3, ax.get_title()
        for box in boxes:
            left, top = box.get_xy()
            right, bottom = left + box.get_width(), top + box.get_height()
            assert 0 < left < right < grid and 0 < top < bottom < grid, (ax.get_title(), box)
            assert box.get_width() > kernel - 1  # still covers kernel x kernel pixels
        starts = sorted(box.get_xy()[0] for box in boxes)
        assert starts[0] < 1 and len(set(np.floor(starts))) == len(starts)  # distinct columns


Y_TRUE = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 9])
Y_PRED = np.array([0, 1, 1, 1, 2, 2, 2, 1, 1, 9])


def test_confusion_and_most_confused_pairs():
    matrix = analysis.confusion(Y_TRUE, Y_PRED)
    assert matrix.shape == (10, 10) and matrix[2, 1] == 2 and matrix.trace() == 6
    pairs = analysis.most_confused_pairs(matrix, top=2)
    assert pairs.to_dict("records") == [{"true": 2, "predicted": 1, "count": 2},
                                        {"true": 0, "predicted": 1, "count": 1}]


def test_misclassified_and_per_class_report():
    assert analysis.misclassified_indices(Y_TRUE, Y_PRED).tolist() == [1, 4, 7, 8]
    report = analysis.per_class_report(Y_TRUE, Y_PRED)
    assert report.loc[1, "precision"] == pytest.approx(2 / 5)
    assert report.loc[1, "recall"] == pytest.approx(2 / 3)
    assert report.loc[2, "support"] == 4 and report.loc[5, "support"] == 0


def test_confidence_rankings():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55]])
    padded = np.pad(probabilities, ((0, 0), (0, 8)))
    y_true = np.array([0, 0, 0, 1])
    predicted, confidence = analysis.predictions(padded)
    assert predicted.tolist() == [0, 0, 1, 1]
    assert analysis.least_confident_correct(padded, y_true, 2).tolist() == [3, 1]
    assert analysis.most_confident_wrong(padded, y_true, 5).tolist() == [2]


def test_negatives_plot_has_a_row_per_kind():
    from helpers.negatives import Negatives

    x = np.zeros((5, 28, 28), np.float32)
    kinds = np.array(["shapes", "shapes", "noise", "shapes", "noise"])
    details = np.array(["star/canvas18", "cross/paper", "noise", "x/canvas", "noise"])
    heldout = Negatives(x[:2], np.array(["shapes_heldout"] * 2), np.array(["grid/paper"] * 2), {})
    fig = plots.plot_negatives(Negatives(x, kinds, details, {}), heldout, per_kind=3)
    assert len(fig.axes) == 3 * 3
    assert [fig.axes[i].get_ylabel() for i in (0, 3, 6)] == ["shapes", "noise", "shapes heldout"]
    assert fig.axes[1].get_title() == "cross"
    assert not fig.axes[5].axison  # "noise" has two images: the third panel is empty


def test_threshold_sweep_plots_the_answered_share():
    images = np.array([0.2, 0.6, 0.95, 0.999])
    fig = plots.plot_threshold_sweep(lambda values: values, {"digits": (images, None)},
                                     {"non-digits": images[:2]}, title="t",
                                     thresholds=np.array([0.0, 0.5, 0.9, 0.99]))
    digits_line, nondigits_line = fig.axes[0].get_lines()[:2]
    assert list(digits_line.get_ydata()) == [1.0, 0.75, 0.5, 0.25]
    assert list(nondigits_line.get_ydata()) == [1.0, 0.5, 0.0, 0.0]
    assert nondigits_line.get_linestyle() == "--"
    assert fig.axes[1].get_xscale() == "logit"


def test_reliability_plot_has_a_panel_per_model_with_its_ece():
    labels = np.array([0, 1, 1, 0])
    sure = np.array([[0.99, 0.01], [0.01, 0.99], [0.02, 0.98], [0.97, 0.03]])
    fig = plots.plot_reliability({"sure": (sure, labels), "unsure": (np.full((4, 2), 0.5), labels)},
                                 title="t", bins=5)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("sure\nECE 0.0")
    assert fig.axes[1].get_title().startswith("unsure\nECE")
    assert fig.axes[0].get_xlabel() == "Confidence (top probability)"
