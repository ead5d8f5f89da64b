"""export_bundle: a checkpoint to a checked, described bundle folder, or nothing at all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import pytest

import robotops.export
import robotops.runtime
from robotops.errors import CheckFailed, ConflictError, DataError, UsageError
from robotops.export import ExportResult, export_bundle
from robotops.train.data import FrameArrays
from tests.export.synthetic import CLASSES, SPEC, frame_arrays


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_manifest_describes_the_model_and_checksums_every_file(exported: ExportResult) -> None:
    folder = exported.path
    assert _leftovers(folder) == ["manifest.json", "model.int8.onnx", "model.onnx"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest == exported.manifest
    assert manifest["format"] == robotops.export.BUNDLE_FORMAT
    assert manifest["model"]["name"] == "door-classifier"
    assert manifest["model"]["version"] == "3"
    assert manifest["model"]["architecture"] == "fusion"
    assert manifest["classes"] == list(CLASSES)
    assert manifest["preprocess"] == SPEC.to_dict()
    assert manifest["dataset"] == {"ref": "doors@3", "digest": "d" * 64}
    assert manifest["held_out"] == {"ref": "doors@3:test", "frames": 24}
    assert manifest["metrics"] == {"accuracy": 0.97}
    assert manifest["created"].endswith("+00:00")
    assert [(i["name"], i["shape"], i["in_graph"]) for i in manifest["inputs"]] == [
        ("rgb", ["batch", 3, 32, 32], True),
        ("depth", ["batch", 2, 32, 32], True),
        ("lidar", ["batch", 64, 3], True),
        ("present", ["batch", 3], True),
    ]
    assert manifest["outputs"] == [{"name": "logits", "shape": ["batch", 3], "dtype": "float32"}]
    assert set(manifest["files"]) == {"model.onnx", "model.int8.onnx"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert exported.digest == hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


def test_the_graph_has_the_fixed_opset_all_four_inputs_and_a_dynamic_batch(
    exported: ExportResult,
) -> None:
    proto = onnx.load(exported.path / "model.onnx")
    assert proto.opset_import[0].version == robotops.export.OPSET == 18
    assert [i.name for i in proto.graph.input] == ["rgb", "depth", "lidar", "present"]
    axes = {
        v.type.tensor_type.shape.dim[0].dim_param for v in (*proto.graph.input, *proto.graph.output)
    }
    assert axes == {"batch"}
    assert exported.manifest["onnx"]["graph_inputs"] == ["rgb", "depth", "lidar", "present"]


def test_parity_and_int8_figures_are_recorded(exported: ExportResult) -> None:
    parity = exported.manifest["parity"]
    assert parity["frames"] == 24
    assert 0 <= parity["max_abs_diff"] <= parity["tolerance"] == 1e-3
    assert parity["class_agreement"] == 1.0
    assert parity["accuracy_onnx"] == parity["accuracy_torch"]
    int8 = exported.manifest["int8"]
    assert int8["status"] == "written" and int8["reason"] is None
    assert int8["method"] in ("static-qdq", "dynamic")
    assert {c["method"] for c in int8["candidates"]} == {"static-qdq", "dynamic"}
    assert int8["accuracy_change"] == pytest.approx(int8["accuracy_int8"] - int8["accuracy_fp32"])
    assert int8["speedup"] > 0
    assert int8["calibration_frames"] == 32


def test_an_int8_model_beyond_the_tolerance_is_not_written(
    checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier export")
    result = export_bundle(
        checkpoint,
        out,
        frame_arrays(10, seed=1),
        calibration=frame_arrays(10, seed=2),
        int8_tolerance=-1.0,  # nothing can gain more than 100 points: always rejected
        overwrite=True,
    )
    assert _leftovers(out) == ["manifest.json", "model.onnx"]  # replaced whole
    assert _leftovers(tmp_path) == ["bundle"]
    int8 = result.manifest["int8"]
    assert int8["status"] == "rejected"
    assert "beyond the tolerance of -100.0 points" in int8["reason"]
    assert len(int8["candidates"]) == 2
    assert list(result.manifest["files"]) == ["model.onnx"]


def test_a_parity_failure_is_an_error_and_leaves_nothing(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with pytest.raises(CheckFailed, match=r"model\.onnx: ONNX Runtime differs from PyTorch"):
        export_bundle(checkpoint, out, frame_arrays(6), int8=False, parity_tolerance=-1.0)
    assert _leftovers(tmp_path) == []


def test_bad_requests_fail_before_any_work(checkpoint: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    frames = frame_arrays(4)
    with pytest.raises(ConflictError, match="full: folder exists and is not empty"):
        export_bundle(checkpoint, full, frames, int8=False)
    with pytest.raises(UsageError, match="needs calibration frames"):
        export_bundle(checkpoint, tmp_path / "a", frames)
    with pytest.raises(UsageError, match="int8 tolerance must be a finite number"):
        export_bundle(checkpoint, tmp_path / "a", frames, int8=False, int8_tolerance=float("nan"))
    other = FrameArrays(frames.arrays, frames.labels, frames.frame_ids, ("a", "b", "c"), False)
    with pytest.raises(DataError, match="held-out frames have classes"):
        export_bundle(checkpoint, tmp_path / "a", other, int8=False)
    small = {k: v[:, :2] if k == "lidar" else v for k, v in frames.arrays.items()}
    wrong = FrameArrays(small, frames.labels, frames.frame_ids, CLASSES, False)
    with pytest.raises(DataError, match=r"lidar is \(2, 3\) per frame"):
        export_bundle(checkpoint, tmp_path / "a", wrong, int8=False)
    with pytest.raises(DataError, match=r"missing\.safetensors: no such checkpoint"):
        export_bundle(tmp_path / "missing.safetensors", tmp_path / "a", frames, int8=False)
    assert _leftovers(tmp_path) == ["full"]


def test_public_api_and_the_runtime_reads_the_format_export_writes() -> None:
    assert sorted(robotops.export.__all__) == sorted(
        [
            "BUNDLE_FORMAT",
            "INT8_TOLERANCE",
            "MANIFEST",
            "MODEL",
            "MODEL_INT8",
            "OPSET",
            "PARITY_TOLERANCE",
            "Candidate",
            "ExportResult",
            "Int8Report",
            "Int8Status",
            "Method",
            "Parity",
            "check_target",
            "export_bundle",
        ]
    )
    for name in ("BUNDLE_FORMAT", "MANIFEST", "MODEL", "MODEL_INT8"):
        assert getattr(robotops.export, name) == getattr(robotops.runtime, name), name
