"""``export_bundle``: a checkpoint in, a verified robot bundle folder out, or nothing at all.

The bundle (DESIGN.md) is ``model.onnx``, optionally ``model.int8.onnx``, and ``manifest.json``
recording where the model came from (name, version, run, architecture, checkpoint digest,
dataset version), how to feed it (class list, input names, shapes and dtypes, the
preprocessing spec), how it did (metrics at export, ONNX-vs-PyTorch parity, the int8 decision)
and the SHA-256 of every file. Everything is written into a hidden sibling folder first and
renamed into place at the end, so a failed export (parity off, disk full, Ctrl-C) leaves no
partial bundle, and an existing bundle is replaced only when asked.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotops.errors import ConflictError, DataError, OutputError, UsageError
from robotops.export.graph import EXPORTER, GraphInfo, export_onnx
from robotops.export.parity import PARITY_TOLERANCE, Parity, check_parity
from robotops.export.quantize import INT8_TOLERANCE, Int8Report, Int8Status, quantize_int8
from robotops.export.session import open_session, session_logits
from robotops.transforms import PreprocessSpec, sample_shapes

if TYPE_CHECKING:
    from robotops.train.data import FrameArrays

# The same strings robotops.runtime reads (a test keeps them equal); the runtime is a later
# stage and may not be imported here.
BUNDLE_FORMAT = "robotops-bundle/1"
MANIFEST = "manifest.json"
MODEL = "model.onnx"
MODEL_INT8 = "model.int8.onnx"


@dataclass(frozen=True)
class ExportResult:
    """A written bundle.

    Attributes:
        path: The bundle folder.
        manifest: What ``manifest.json`` holds.
        digest: SHA-256 of ``manifest.json``, which lists every file's SHA-256: the bundle's
            identity, to tag on the registry version.
        parity: ONNX Runtime against PyTorch on the held-out frames.
        int8: The int8 decision.
    """

    path: Path
    manifest: dict[str, Any]
    digest: str
    parity: Parity
    int8: Int8Report


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_target(out: Path, overwrite: bool = False) -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder unless ``overwrite``.

    Raises:
        ConflictError: ``out`` exists and may not be replaced.
    """
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise ConflictError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConflictError(f"{out}: folder exists and is not empty (overwrite to replace it)")


def _check_frames(data: FrameArrays, what: str, classes: list[str], spec: PreprocessSpec) -> None:
    if len(data) == 0:
        raise DataError(f"{what} frames: none given")
    if list(data.classes) != classes:
        raise DataError(
            f"{what} frames have classes {list(data.classes)}, the model was trained on {classes}"
        )
    for name, shape in sample_shapes(spec).items():
        array = data.arrays.get(name)
        if array is None or array.shape[1:] != shape:
            found = None if array is None else array.shape[1:]
            raise DataError(
                f"{what} frames: {name} is {found} per frame, the model's preprocessing makes "
                f"{shape}: prepare them with the checkpoint's spec"
            )


def _manifest(
    *,
    meta: dict[str, Any],
    checkpoint: Path,
    spec: PreprocessSpec,
    graph: GraphInfo,
    name: str | None,
    version: str | None,
    metrics: Mapping[str, float],
    held_out: FrameArrays,
    held_out_ref: str | None,
    parity: Parity,
    int8: Int8Report,
    created: datetime,
) -> dict[str, Any]:
    import onnx
    import onnxruntime
    import torch

    from robotops.models import INPUT_NAMES, OUTPUT_NAMES

    shapes = sample_shapes(spec)
    return {
        "format": BUNDLE_FORMAT,
        "created": created.astimezone(UTC).isoformat(timespec="seconds"),
        "model": {
            "name": name,
            "version": version,
            "architecture": meta["model"],
            "hyper": meta.get("hyper", {}),
            "run_id": meta.get("run_id"),
            "checkpoint_sha256": sha256_file(checkpoint),
        },
        "classes": list(meta["classes"]),
        "inputs": [
            {
                "name": n,
                "shape": ["batch", *shapes[n]],
                "dtype": "float32",
                "in_graph": n in graph.inputs,
            }
            for n in INPUT_NAMES
        ],
        "outputs": [
            {"name": n, "shape": ["batch", len(meta["classes"])], "dtype": "float32"}
            for n in OUTPUT_NAMES
        ],
        "preprocess": spec.to_dict(),
        "onnx": {
            "opset": graph.opset,
            "ir_version": graph.ir_version,
            "graph_inputs": list(graph.inputs),
            "exporter": EXPORTER,
            "versions": {
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
        },
        "dataset": dict(meta.get("dataset") or {"ref": None, "digest": None}),
        "held_out": {"ref": held_out_ref, "frames": len(held_out)},
        "metrics": {k: float(v) for k, v in metrics.items()},
        "parity": parity.to_dict(),
        "int8": int8.to_dict(),
    }


def _publish(staging: Path, out: Path) -> None:
    """Move the finished ``staging`` folder to ``out``, replacing what is there."""
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    try:
        if out.exists():
            out.replace(old)
        staging.replace(out)
    except OSError as err:
        if old.exists() and not out.exists():
            old.replace(out)
        raise OutputError(f"{out}: cannot move the bundle into place: {err}") from err
    shutil.rmtree(old, ignore_errors=True)


def export_bundle(
    checkpoint: Path,
    out: Path,
    held_out: FrameArrays,
    *,
    calibration: FrameArrays | None = None,
    name: str | None = None,
    version: str | None = None,
    metrics: Mapping[str, float] | None = None,
    held_out_ref: str | None = None,
    int8: bool = True,
    int8_tolerance: float = INT8_TOLERANCE,
    parity_tolerance: float = PARITY_TOLERANCE,
    overwrite: bool = False,
    now: Callable[[], datetime] = _utc_now,
) -> ExportResult:
    """Export a robotops checkpoint to an ONNX bundle folder, checked and described.

    Args:
        checkpoint: A ``.safetensors`` checkpoint written by training.
        out: The bundle folder to create.
        held_out: Labelled frames the model did not train on, prepared with the checkpoint's
            preprocessing spec: parity, int8 accuracy and speed are measured on them.
        calibration: Frames that calibrate static int8 quantisation (the training split,
            say); needed when ``int8``.
        name: Registered model name, if any.
        version: Registered model version, if any.
        metrics: The model's metrics to record (from the registry or the evaluation).
        held_out_ref: Where ``held_out`` came from, e.g. ``doors@3:test``, for the manifest.
        int8: Try to make ``model.int8.onnx``.
        int8_tolerance: The largest accuracy drop an int8 model may have (0.01 is one point).
        parity_tolerance: The largest absolute logit difference ONNX may have from PyTorch.
        overwrite: Replace a non-empty ``out``.
        now: The clock, for the manifest's creation time.

    Raises:
        ConflictError: ``out`` exists, is not empty, and ``overwrite`` is false.
        UsageError: A tolerance is not a finite number, or ``int8`` without ``calibration``.
        DataError: The checkpoint is unreadable, or the frames do not fit the model.
        CheckFailed: ONNX Runtime's logits differ from PyTorch's beyond the tolerance.
        OutputError: The bundle cannot be written.
    """
    from robotops.train.checkpoint import load_checkpoint, model_from_checkpoint

    out = Path(out)
    check_target(out, overwrite)
    for label, value in (
        ("int8 tolerance", int8_tolerance),
        ("parity tolerance", parity_tolerance),
    ):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise UsageError(f"{label} must be a finite number, got {value!r}")
    if int8 and calibration is None:
        raise UsageError("int8 quantisation needs calibration frames (or turn int8 off)")
    ckpt = load_checkpoint(Path(checkpoint))
    meta = ckpt.meta
    spec = PreprocessSpec.from_dict(meta["spec"])
    _check_frames(held_out, "held-out", list(meta["classes"]), spec)
    if int8 and calibration is not None:
        _check_frames(calibration, "calibration", list(meta["classes"]), spec)
    model = model_from_checkpoint(ckpt, checkpoint)

    staging = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as err:
        raise OutputError(f"{out}: cannot create the bundle folder: {err}") from err
    try:
        graph = export_onnx(model, staging / MODEL, spec)
        logits = session_logits(open_session(staging / MODEL), held_out.arrays)
        parity = check_parity(model, logits, held_out, staging / MODEL, parity_tolerance)
        if int8:
            assert calibration is not None
            with tempfile.TemporaryDirectory(prefix="robotops-int8-") as scratch:
                report = quantize_int8(
                    staging / MODEL,
                    staging / MODEL_INT8,
                    Path(scratch),
                    calibration,
                    held_out,
                    logits,
                    int8_tolerance,
                )
        else:
            report = Int8Report(Int8Status.SKIPPED, int8_tolerance, reason="not asked for")
        manifest = _manifest(
            meta=meta,
            checkpoint=Path(checkpoint),
            spec=spec,
            graph=graph,
            name=name,
            version=version,
            metrics=metrics or {},
            held_out=held_out,
            held_out_ref=held_out_ref,
            parity=parity,
            int8=report,
            created=now(),
        )
        manifest["files"] = {
            p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()
        }
        text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
        (staging / MANIFEST).write_text(text, encoding="utf-8")
        _publish(staging, out)
    except OSError as err:
        raise OutputError(f"{out}: cannot write the bundle: {err}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ExportResult(out, manifest, digest, parity, report)
