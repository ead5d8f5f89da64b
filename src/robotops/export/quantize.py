"""Int8: quantise the fp32 graph, measure what it costs in accuracy and gains in speed, decide.

Two candidates are made and measured on the held-out frames: static QDQ quantisation, its
activation ranges calibrated on dataset frames (ONNX Runtime's recommended CPU format: its
kernels fuse the QuantizeLinear/DequantizeLinear pairs into integer convolutions), and dynamic
quantisation (weights only, activation ranges computed per call; no calibration, but integer
convolutions without fusion, which on small CNNs is often slower than fp32). A candidate whose
accuracy drops by more than the tolerance is out; of the rest the fastest is kept. When none is
left the bundle has no int8 model and the report says why.

Settings (see ``onnxruntime.quantization.quantize_static``'s "Choosing parameters for CPU
inference"): per-tensor (the faster choice on CPU), uint8 activations and int8 weights,
MinMax calibration. ``quant_pre_process`` runs first (constant folding and shape inference);
its symbolic shape inference is skipped because it cannot follow the dynamo exporter's graph.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robotops.export.session import open_session, seconds_per_run, session_logits

if TYPE_CHECKING:
    from robotops.train.data import FrameArrays

INT8_TOLERANCE = 0.01
"""Default largest accuracy drop (a fraction: 0.01 is one point) an int8 model may have."""
CALIBRATION_FRAMES = 256
"""At most this many calibration frames, spread evenly over the calibration split."""
CALIBRATION_BATCH = 32
TIMING_ROWS = 32
"""Speed is compared on one batch of up to this many held-out frames."""


class Int8Status(StrEnum):
    """What became of the int8 model."""

    WRITTEN = "written"
    REJECTED = "rejected"
    SKIPPED = "skipped"


class Method(StrEnum):
    """How a candidate was quantised."""

    STATIC_QDQ = "static-qdq"
    DYNAMIC = "dynamic"


@dataclass(frozen=True)
class Candidate:
    """One quantised model, measured against fp32 on the held-out frames.

    Attributes:
        method: How it was quantised.
        accuracy: Its accuracy on the held-out labels (``None`` if quantisation failed).
        accuracy_change: ``accuracy`` minus fp32's: -0.01 is one point lost.
        class_agreement: Share of frames where it predicts fp32's class.
        speedup: fp32 seconds over int8 seconds for one batch: above 1 is faster.
        error: Why quantisation failed, if it did.
    """

    method: Method
    accuracy: float | None = None
    accuracy_change: float | None = None
    class_agreement: float | None = None
    speedup: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Int8Report:
    """The int8 decision and its figures.

    Attributes:
        status: Written, rejected, or not attempted.
        tolerance: The largest accuracy drop allowed.
        reason: Why it was rejected or skipped.
        accuracy_fp32: fp32 accuracy on the held-out frames.
        chosen: The candidate written.
        candidates: Every candidate measured.
        calibration_frames: Frames the static candidate was calibrated on.
        timing_frames: Batch size of the speed comparison.
    """

    status: Int8Status
    tolerance: float
    reason: str | None = None
    accuracy_fp32: float | None = None
    chosen: Candidate | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    calibration_frames: int = 0
    timing_frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types for the manifest; the chosen candidate's figures at the top."""
        chosen = self.chosen
        return {
            "status": str(self.status),
            "reason": self.reason,
            "tolerance": self.tolerance,
            "method": None if chosen is None else str(chosen.method),
            "accuracy_fp32": self.accuracy_fp32,
            "accuracy_int8": None if chosen is None else chosen.accuracy,
            "accuracy_change": None if chosen is None else chosen.accuracy_change,
            "speedup": None if chosen is None else chosen.speedup,
            "calibration_frames": self.calibration_frames,
            "timing_frames": self.timing_frames,
            "candidates": [
                {k: str(v) if k == "method" else v for k, v in asdict(c).items()}
                for c in self.candidates
            ],
        }


class _Reader:
    """Calibration batches for ``quantize_static`` (its ``CalibrationDataReader`` protocol)."""

    def __init__(self, arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> None:
        n = next(iter(arrays.values())).shape[0]
        self._batches = iter(
            [
                {k: np.ascontiguousarray(arrays[k][s : s + CALIBRATION_BATCH]) for k in names}
                for s in range(0, n, CALIBRATION_BATCH)
            ]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's quantiser logs advice through the root logger; keep it off the console."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def calibration_subset(data: FrameArrays, limit: int = CALIBRATION_FRAMES) -> dict[str, np.ndarray]:
    """At most ``limit`` frames of ``data``, evenly spread (frames are in recording order)."""
    n = len(data)
    rows = np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(int))
    return {k: v[rows] for k, v in data.arrays.items()}


def _quantise(
    method: Method,
    source: Path,
    target: Path,
    calibration: dict[str, np.ndarray],
    names: tuple[str, ...],
) -> None:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    with _quiet():
        if method is Method.STATIC_QDQ:
            quantize_static(
                source,
                target,
                _Reader(calibration, names),
                quant_format=QuantFormat.QDQ,
                per_channel=False,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
        else:
            quantize_dynamic(source, target, weight_type=QuantType.QInt8)


def quantize_int8(
    fp32: Path,
    target: Path,
    workdir: Path,
    calibration: FrameArrays,
    held_out: FrameArrays,
    fp32_logits: np.ndarray,
    tolerance: float = INT8_TOLERANCE,
) -> Int8Report:
    """Make, measure and choose an int8 model of ``fp32``; write the chosen one to ``target``.

    Args:
        fp32: The exported fp32 graph.
        target: Where the chosen int8 model goes (nothing is written there when rejected).
        workdir: A scratch folder for the candidates.
        calibration: Frames whose activation ranges calibrate static quantisation; not the
            held-out frames, which would flatter the accuracy measured on them.
        held_out: Labelled frames the accuracy and speed are measured on.
        fp32_logits: ``fp32``'s logits on ``held_out``.
        tolerance: The largest accuracy drop allowed (0.01 is one point).
    """
    from onnxruntime.quantization import quant_pre_process

    fp32_session = open_session(fp32)
    names = tuple(i.name for i in fp32_session.get_inputs())
    fp32_pred = fp32_logits.argmax(1)
    accuracy_fp32 = float(np.mean(fp32_pred == held_out.labels))
    rows = min(TIMING_ROWS, len(held_out))
    fp32_seconds = seconds_per_run(fp32_session, held_out.arrays, rows)
    prepared = workdir / "prepared.onnx"
    with _quiet():
        quant_pre_process(fp32, prepared, skip_symbolic_shape=True)
    subset = calibration_subset(calibration)
    candidates = []
    paths = {}
    for method in Method:
        path = workdir / f"{method}.onnx"
        try:
            _quantise(method, prepared, path, subset, names)
            session = open_session(path)
            predicted = session_logits(session, held_out.arrays).argmax(1)
            seconds = seconds_per_run(session, held_out.arrays, rows)
        except Exception as err:  # a candidate that cannot be made is recorded, not fatal
            first = (str(err).splitlines() or [type(err).__name__])[0]
            candidates.append(Candidate(method, error=f"{type(err).__name__}: {first}"))
            continue
        accuracy = float(np.mean(predicted == held_out.labels))
        candidates.append(
            Candidate(
                method,
                accuracy=accuracy,
                accuracy_change=accuracy - accuracy_fp32,
                class_agreement=float(np.mean(predicted == fp32_pred)),
                speedup=fp32_seconds / seconds,
            )
        )
        paths[method] = path
    report = Int8Report(
        Int8Status.REJECTED,
        tolerance,
        accuracy_fp32=accuracy_fp32,
        candidates=tuple(candidates),
        calibration_frames=len(next(iter(subset.values()))),
        timing_frames=rows,
    )
    made = [c for c in candidates if c.error is None]
    # A drop is fp32 minus int8; round away float noise so "exactly one point" passes at 0.01.
    kept = [c for c in made if round(-(c.accuracy_change or 0.0), 9) <= tolerance]
    if kept:
        best = max(kept, key=lambda c: c.speedup or 0.0)
        shutil.copyfile(paths[best.method], target)
        return replace(report, status=Int8Status.WRITTEN, chosen=best)
    if not made:
        return replace(
            report,
            reason="quantisation failed: "
            + "; ".join(f"{c.method}: {c.error}" for c in candidates),
        )
    least = max(made, key=lambda c: c.accuracy_change or 0.0)
    return replace(
        report,
        reason=f"int8 ({least.method}) accuracy {least.accuracy:.1%} against fp32 "
        f"{accuracy_fp32:.1%}: a change of {100 * (least.accuracy_change or 0.0):+.1f} points, "
        f"beyond the tolerance of {100 * tolerance:.1f} points",
    )
