"""Figures shared by the notebooks: digit grids, training curves, confusion matrices.

Every function returns the matplotlib ``Figure`` so a notebook can show it and
:func:`save_figure` can write it to ``figures/`` (or the quick-mode scratch folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from helpers.config import figures_dir

CORRECT_COLOUR = "#1a7f37"  # green
WRONG_COLOUR = "#cf222e"  # red


def use_course_style() -> None:
    """Readable defaults for every figure of the course."""
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "savefig.bbox": "tight",
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "figure.titlesize": 14,
        }
    )


def save_figure(fig: Figure, name: str) -> Path:
    """Save ``fig`` as ``<figures folder>/<name>.png`` and return the path."""
    path = figures_dir() / f"{name}.png"
    fig.savefig(path, facecolor="white")
    return path


def _as_2d(image: np.ndarray) -> np.ndarray:
    return np.asarray(image).reshape(28, 28)


def plot_digit_grid(
    images: np.ndarray,
    true_labels: Sequence[int] | None = None,
    predicted_labels: Sequence[int] | None = None,
    confidences: Sequence[float] | None = None,
    columns: int = 8,
    title: str = "",
) -> Figure:
    """Show digits in a grid; with predictions, each title reads ``true/pred (conf%)``.

    Correct predictions are titled in green and wrong ones in red.
    """
    count = len(images)
    rows = max(1, int(np.ceil(count / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(1.45 * columns, 1.65 * rows + 0.6))
    axes = np.atleast_1d(axes).ravel()
    for index, ax in enumerate(axes):
        ax.axis("off")
        if index >= count:
            continue
        vmax = 1 if images.max() <= 1 else 255
        ax.imshow(_as_2d(images[index]), cmap="gray_r", vmin=0, vmax=vmax)
        if predicted_labels is None:
            if true_labels is not None:
                ax.set_title(f"label {true_labels[index]}", fontsize=10)
            continue
        true, pred = int(true_labels[index]), int(predicted_labels[index])
        text = f"true {true}\npred {pred}"
        if confidences is not None:
            text += f" ({100 * confidences[index]:.0f}%)"
        ax.set_title(text, fontsize=9, color=CORRECT_COLOUR if true == pred else WRONG_COLOUR)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history: dict[str, list[float]], title: str = "Training history") -> Figure:
    """Loss and accuracy per epoch, training against validation, side by side."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, label in ((loss_ax, "loss", "Loss"), (acc_ax, "accuracy", "Accuracy")):
        ax.plot(epochs, history[metric], "o-", label="training")
        ax.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.set_title(f"{label} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    best = int(np.argmax(history["val_accuracy"])) + 1
    acc_ax.axvline(best, color="grey", linestyle="--", linewidth=1, label=f"kept: epoch {best}")
    acc_ax.legend()
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix: np.ndarray, title: str = "Confusion matrix (test set)") -> Figure:
    """Counts of true (rows) against predicted (columns) classes; the diagonal is dimmed
    so that the errors stand out."""
    matrix = np.asarray(matrix)
    classes = np.arange(matrix.shape[0])
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(off_diagonal, cmap="Reds")
    fig.colorbar(image, ax=ax, label="misclassified images")
    for true in classes:
        for pred in classes:
            value = matrix[true, pred]
            if true == pred:
                colour = "grey"
            else:
                colour = "white" if value > off_diagonal.max() / 2 else "black"
            ax.text(pred, true, str(value), ha="center", va="center", fontsize=9, color=colour)
    ax.set_xticks(classes)
    ax.set_yticks(classes)
    ax.set_xlabel("Predicted digit")
    ax.set_ylabel("True digit")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_class_counts(counts: dict[str, Sequence[int]], title: str = "Images per class") -> Figure:
    """Grouped bar chart of images per digit for each named split."""
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(counts)
    digits = np.arange(10)
    for offset, (name, values) in enumerate(counts.items()):
        ax.bar(digits + offset * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(digits)
    ax.set_xlabel("Digit")
    ax.set_ylabel("Number of images")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_padding_and_stride(size: int = 5, kernel: int = 3) -> Figure:
    """Diagram of a ``kernel`` x ``kernel`` filter on a ``size`` x ``size`` input (notebook 02).

    Three panels: ``padding="valid"`` with stride 1 (the filter stays inside the input),
    ``padding="same"`` (a ring of zeros lets the filter centre on every pixel, so the
    output keeps the input's size) and stride 2 (the filter jumps two pixels). Each
    panel outlines the filter's first positions, each box drawn just inside the pixels it
    covers (never over the edge of the grid), and prints the output size.
    """
    from matplotlib.patches import Rectangle

    pad = kernel // 2
    settings = [("valid", 1, 0), ("same", 1, pad), ("valid", 2, 0)]
    colours = ["tab:red", "tab:blue", "tab:green"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    for ax, (padding, stride, ring) in zip(axes, settings, strict=True):
        full = size + 2 * ring
        for row in range(full):
            for col in range(full):
                inside = ring <= row < ring + size and ring <= col < ring + size
                ax.add_patch(Rectangle((col, row), 1, 1, facecolor="#dddddd" if inside else "white",
                                       edgecolor="grey", linestyle="-" if inside else ":"))
                if not inside:
                    ax.text(col + 0.5, row + 0.5, "0", ha="center", va="center", color="grey")
        out = (full - kernel) // stride + 1
        for index, start in enumerate(range(0, stride * min(out, 3), stride)):
            inset = 0.05 + 0.07 * index  # each box drawn a little inside the last: all stay visible
            ax.add_patch(Rectangle((start + inset, inset), kernel - 2 * inset, kernel - 2 * inset,
                                   fill=False, edgecolor=colours[index], linewidth=2.5))
        ax.set_xlim(-0.2, full + 0.2)
        ax.set_ylim(full + 0.2, -0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f'padding="{padding}", strides={stride}\n'
                     f"{size}x{size} input -> {out}x{out} output", fontsize=11)
    fig.suptitle(f"A {kernel}x{kernel} filter's first positions along the top row "
                 "(grey: input pixels, 0: padding)")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def plot_inverse_mapping(source: np.ndarray, moved: np.ndarray,
                         output_points: tuple[np.ndarray, np.ndarray],
                         read_points: np.ndarray) -> Figure:
    """How an affine resampling reads its input (notebook 06): each output pixel (right,
    a dot) takes its value from a point of the input (left, the dot of the same colour).

    ``output_points`` are the (x, y) grids of the output pixels shown, ``read_points`` the
    (2, n) input coordinates each of them reads.
    """
    xs, ys = (np.ravel(points) for points in output_points)
    colours = plt.cm.viridis(np.linspace(0, 1, len(xs)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.6))
    for ax, image, (px, py), title in (
            (left, source, read_points, "Input: where each output pixel reads"),
            (right, moved, (xs, ys), "Output: the resampled digit")):
        ax.imshow(_as_2d(image), cmap="gray_r", vmin=0, vmax=1)
        ax.scatter(px, py, c=colours, s=18, edgecolors="white", linewidths=0.5)
        ax.set(title=title, xlim=(-0.5, 27.5), ylim=(27.5, -0.5), xlabel="x (pixels)",
               ylabel="y (pixels)")
    fig.suptitle("One affine resampling works backwards: output pixel -> input location")
    fig.tight_layout()
    return fig


def plot_ladder(table, runs, validation_count: int, test_count: int) -> Figure:
    """Every run of notebook 06's ladder: validation and test errors per rung, one dot per
    seed, a line through the means, on logarithmic axes so that every run is visible."""
    rungs = list(table.index)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharex=True)
    for ax, key, count, split in ((axes[0], "val_accuracy", validation_count, "validation"),
                                  (axes[1], "test_accuracy", test_count, "test")):
        means = []
        for position, rung in enumerate(rungs):
            errors = [(1 - getattr(run, key)) * count for run in runs if run.rung == rung]
            ax.scatter([position] * len(errors), errors, color="tab:blue", alpha=0.7, s=22,
                       label="one run (seed)" if position == 0 else None)
            means.append(np.mean(errors))
        ax.plot(range(len(rungs)), means, color="tab:orange", label="mean over seeds")
        ax.set_yscale("log")
        ax.set_ylabel(f"{split.capitalize()} errors (of {count:,}, log scale)")
        ax.set_title(f"{split.capitalize()} errors of every run")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        ax.set_xticks(range(len(rungs)), [rung.split(" ", 1)[0] for rung in rungs])
        ax.set_xlabel("Rung (names in the table above)")
    fig.tight_layout()
    return fig


def plot_long_run(history: dict[str, list[float]], title: str = "Training history") -> Figure:
    """Loss and accuracy per epoch of a run that keeps its last weights (notebook 07).

    The accuracy panel is zoomed to the region where the last epochs differ (from 97%);
    the loss panel shows training loss on augmented images with Dropout on, and validation
    loss on clean images with Dropout off.
    """
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, metric, label in ((loss_ax, "loss", "Loss"), (acc_ax, "accuracy", "Accuracy (%)")):
        scale = 100 if metric == "accuracy" else 1
        ax.plot(epochs, np.asarray(history[metric]) * scale, "o-", ms=3,
                label="training (augmented, Dropout on)")
        ax.plot(epochs, np.asarray(history[f"val_{metric}"]) * scale, "s-", ms=3,
                label="validation")
        ax.set(xlabel="Epoch", ylabel=label, title=f"{label.split(' ')[0]} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    low = min(97.0, 100 * min(history["val_accuracy"][len(epochs) // 4:]) - 0.2)
    acc_ax.set_ylim(low, 100)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("Loss (log scale)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_proxy_variants(digit: np.ndarray, variants: Sequence[str], seed: int = 1) -> Figure:
    """One MNIST digit rendered each way of :mod:`helpers.proxies` (top row: the page the
    preprocessing receives) and the 28x28 image the model then receives (bottom row)."""
    from helpers import preprocess, proxies

    fig, axes = plt.subplots(2, len(variants), figsize=(1.25 * len(variants) + 1, 3.4))
    digit = proxies.as_digits(digit)[0]
    for column, variant in enumerate(variants):
        page = proxies.render_proxy(digit, variant, proxies.image_rng(seed, column, 0))
        top, bottom = axes[0, column], axes[1, column]
        top.imshow(np.asarray(page), cmap="gray" if np.asarray(page).ndim == 2 else None)
        top.set_title(variant.replace("_", " "), fontsize=8)
        try:
            bottom.imshow(preprocess.to_mnist(page), cmap="gray", vmin=0, vmax=1)
        except preprocess.PreprocessError:
            bottom.text(0.5, 0.5, "unreadable", ha="center", va="center", fontsize=8)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("page", fontsize=9)
    axes[1, 0].set_ylabel("28x28", fontsize=9)
    fig.suptitle("One validation digit rendered each way (top) and as the model receives it "
                 "(bottom)")
    fig.tight_layout()
    return fig


def plot_reliability(models: dict, title: str = "Reliability", bins: int = 10) -> Figure:
    """Reliability diagrams (notebook 09), one panel per model: for each confidence bin, the
    accuracy (bar) against the bin's mean confidence (dot on the diagonal = calibrated).
    ``models`` maps a name to ``(probabilities, labels)``. The number of images in each bin
    is written above its bar: most of a good model's answers fall in the last bin."""
    from helpers import calibration

    fig, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models), 3.9), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (name, (probabilities, labels)) in zip(axes, models.items(), strict=True):
        table = calibration.reliability(probabilities, labels, bins=bins)
        width = 1.0 / bins
        ax.bar(table["low"] + width / 2, table["accuracy"], width=width * 0.9,
               color="tab:blue", alpha=0.75, label="accuracy in the bin")
        ax.plot(table["confidence"], table["confidence"], "o", color="tab:orange", ms=4,
                label="mean confidence in the bin")
        ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=1)
        for _, row in table.iterrows():
            ax.text(row["low"] + width / 2, min(row["accuracy"] + 0.03, 1.02),
                    f"{int(row['count'])}", ha="center", fontsize=7, rotation=90)
        ece = calibration.expected_calibration_error(probabilities, labels, bins=15)
        ax.set(title=f"{name}\nECE {ece:.4f}", xlabel="Confidence (top probability)",
               xlim=(0, 1), ylim=(0, 1.12))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Accuracy")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_negatives(*sets, per_kind: int = 8, title: str = "Non-digits, one row per kind") -> Figure:
    """Examples of non-digits (:class:`helpers.negatives.Negatives`), as the model sees them:
    one row per kind, the first ``per_kind`` images of each kind, titled with what each is
    (the detail before its slash: a letter, a shape's name...). Rows follow the sets in
    the order given (e.g. validation kinds, then held-out kinds)."""
    rows = [(kind, negatives.x[negatives.kinds == kind][:per_kind],
             negatives.details[negatives.kinds == kind][:per_kind])
            for negatives in sets for kind in dict.fromkeys(negatives.kinds)]
    fig, axes = plt.subplots(len(rows), per_kind, figsize=(1.2 * per_kind + 1.6, 1.3 * len(rows)),
                             squeeze=False)
    for (kind, images, details), row in zip(rows, axes, strict=True):
        for index, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if index >= len(images):
                ax.axis("off")
                continue
            ax.imshow(_as_2d(images[index]), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(str(details[index]).split("/")[0][:12], fontsize=7)
        row[0].set_ylabel(kind.replace("_", " "), rotation=0, ha="right", va="center",
                          fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_threshold_sweep(score, digits: dict, nondigits: dict, title: str = "Answered share",
                         thresholds: np.ndarray | None = None) -> Figure:
    """The share of each set answered by the rule "answer when ``score(images)`` reaches
    the threshold", for thresholds from 0 to 1. ``digits`` maps a name to ``(images,
    labels)`` (solid lines: these should be answered), ``nondigits`` a name to images
    (dashed: these should not). The right panel zooms into thresholds 0.9-1, where a good
    model's digits sit, with a logit-like x axis so that 0.99 and 0.999 are apart."""
    if thresholds is None:
        thresholds = np.concatenate([np.linspace(0, 0.9, 91), 1 - np.logspace(-1, -4, 61)[1:]])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    curves = {name: (score(images), "-") for name, (images, _labels) in digits.items()}
    curves.update({name: (score(images), "--") for name, images in nondigits.items()})
    for name, (values, style) in curves.items():
        answered = [(values >= t).mean() for t in thresholds]
        for ax in axes:
            ax.plot(thresholds, answered, style, linewidth=2, label=name)
    axes[0].set(xlabel="Threshold on the score", ylabel="Share answered", xlim=(0, 1),
                ylim=(-0.02, 1.02), title="All thresholds")
    axes[1].set_xscale("logit")
    axes[1].set(xlabel="Threshold on the score (logit scale)", xlim=(0.9, 0.9999),
                title="Zoom: thresholds 0.9-0.9999")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
