"""Parity: the exported graph must give PyTorch's logits on real held-out frames.

Random inputs prove little (a broken normalisation or a pruned modality can agree on noise), so
parity is measured on the dataset's own held-out frames: the largest absolute difference of the
logits, and the share of frames whose predicted class is the same. A difference beyond the
tolerance fails the export.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robotops.errors import CheckFailed

if TYPE_CHECKING:
    from robotops.models import DoorClassifier
    from robotops.train.data import FrameArrays

PARITY_TOLERANCE = 1e-3
"""Default largest absolute logit difference allowed between ONNX Runtime and PyTorch."""


@dataclass(frozen=True)
class Parity:
    """ONNX Runtime against PyTorch on the held-out frames.

    Attributes:
        frames: Frames compared.
        max_abs_diff: Largest absolute difference of any logit.
        class_agreement: Share of frames with the same predicted class.
        tolerance: The largest ``max_abs_diff`` allowed.
        accuracy_torch: PyTorch's accuracy on the frames' labels.
        accuracy_onnx: ONNX Runtime's accuracy on the frames' labels.
    """

    frames: int
    max_abs_diff: float
    class_agreement: float
    tolerance: float
    accuracy_torch: float
    accuracy_onnx: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the manifest."""
        return asdict(self)


def check_parity(
    model: DoorClassifier,
    onnx_logits: np.ndarray,
    data: FrameArrays,
    path: Path,
    tolerance: float = PARITY_TOLERANCE,
) -> Parity:
    """Compare ``model`` with the exported graph's logits ``onnx_logits`` on ``data``.

    Args:
        model: The PyTorch model.
        onnx_logits: ONNX Runtime's logits for ``data.arrays``.
        data: Held-out frames with labels.
        path: The ONNX file, for messages.
        tolerance: The largest absolute logit difference allowed.

    Raises:
        CheckFailed: A logit differs by more than ``tolerance``, or is not finite.
    """
    import torch

    from robotops.train.loop import predict

    with torch.no_grad():
        torch_logits = predict(model, data.arrays)
    diff = float(np.max(np.abs(torch_logits - onnx_logits))) if len(data) else 0.0
    parity = Parity(
        frames=len(data),
        max_abs_diff=diff,
        class_agreement=_mean(torch_logits.argmax(1) == onnx_logits.argmax(1)),
        tolerance=tolerance,
        accuracy_torch=_mean(torch_logits.argmax(1) == data.labels),
        accuracy_onnx=_mean(onnx_logits.argmax(1) == data.labels),
    )
    if not math.isfinite(diff) or diff > tolerance:
        raise CheckFailed(
            f"{path}: ONNX Runtime differs from PyTorch by {diff:.3g} in the logits on "
            f"{len(data)} held-out frames (tolerance {tolerance:g}; classes agree on "
            f"{parity.class_agreement:.1%})"
        )
    return parity


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else 0.0
