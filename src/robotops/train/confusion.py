"""Confusion matrices: counted from labels and predictions, and drawn for the run's artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix


def confusion_figure(matrix: np.ndarray, classes: Sequence[str], title: str) -> Figure:
    """The matrix as a heat map with each cell's count and its share of the true class."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    k = len(classes)
    fig = Figure(figsize=(1.6 * k + 2, 1.4 * k + 1.5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for row in range(k):
        for col in range(k):
            colour = "white" if shares[row, col] > 0.6 else "black"
            text = f"{matrix[row, col]}\n{shares[row, col]:.0%}"
            ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(k), classes, rotation=20)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return fig
