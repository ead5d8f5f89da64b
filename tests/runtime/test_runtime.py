"""robotops.runtime: verified loading, raw-frame predictions equal to PyTorch's, numpy-only."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import robotops.runtime
from robotops.errors import DataError, NotFoundError
from robotops.export import ExportResult
from robotops.runtime import Bundle, Frame, Prediction, load_bundle, softmax
from robotops.train.checkpoint import load_checkpoint, model_from_checkpoint
from robotops.transforms import preprocess_frame, stack_samples
from tests.export.synthetic import CLASSES, SPEC, raw_frames

SRC = Path(__file__).resolve().parents[2] / "src"


def torch_probabilities(checkpoint: Path, frames: list) -> np.ndarray:
    """What the trained model says on ``frames``, preprocessed as training does."""
    model = model_from_checkpoint(load_checkpoint(checkpoint))
    batch = stack_samples([preprocess_frame(*f, SPEC) for f in frames])
    with torch.no_grad():
        logits = model(*(torch.from_numpy(batch[k]) for k in ("rgb", "depth", "lidar", "present")))
    return torch.softmax(logits, dim=1).numpy()


def copy_bundle(exported: ExportResult, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exported.path, tmp_path / "bundle"))


def test_raw_frames_give_pytorchs_probabilities(exported: ExportResult, checkpoint: Path) -> None:
    frames = raw_frames(7, seed=5)  # frame 4 lacks a modality
    bundle = load_bundle(exported.path)
    assert isinstance(bundle, Bundle)
    assert (bundle.name, bundle.version, bundle.classes) == ("door-classifier", "3", CLASSES)
    assert bundle.spec == SPEC
    assert bundle.input_names == ("rgb", "depth", "lidar", "present")
    predictions = bundle.predict_frames(frames)
    expected = torch_probabilities(checkpoint, frames)
    got = np.array([p.probabilities for p in predictions])
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    first = predictions[0]
    assert isinstance(first, Prediction)
    assert first.index == int(expected[0].argmax())
    assert first.label == CLASSES[first.index]
    assert first.confidence == pytest.approx(expected[0].max(), abs=1e-5)
    # Named frames and missing modalities work too.
    [only_camera] = bundle.predict_frames([Frame(rgb=frames[0][0])])
    np.testing.assert_allclose(
        only_camera.probabilities,
        torch_probabilities(checkpoint, [(frames[0][0], None, None)])[0],
        atol=1e-5,
    )


def test_the_int8_model_loads_and_roughly_agrees(exported: ExportResult) -> None:
    frames = raw_frames(6, seed=6)
    fp32 = load_bundle(exported.path)
    int8 = load_bundle(exported.path, int8=True)
    assert int8.int8 and not fp32.int8
    arrays = fp32.preprocess(frames)
    a, b = fp32.predict_arrays(arrays), int8.predict_arrays(arrays)
    assert b.shape == (6, 3)
    np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(a - b).max() < 0.1


def test_arrays_that_do_not_fit_are_refused(exported: ExportResult) -> None:
    bundle = load_bundle(exported.path)
    arrays = bundle.preprocess(raw_frames(2))
    with pytest.raises(DataError, match="inputs: no 'present' array"):
        bundle.predict_arrays({k: v for k, v in arrays.items() if k != "present"})
    with pytest.raises(DataError, match=r"'rgb' has shape \(2, 3, 16, 16\)"):
        bundle.predict_arrays(arrays | {"rgb": arrays["rgb"][:, :, :16, :16]})
    with pytest.raises(DataError, match="disagree on the batch size"):
        bundle.predict_arrays(arrays | {"present": arrays["present"][:1]})
    with pytest.raises(DataError, match="colour image must be uint8"):
        bundle.predict_frames([(np.zeros((8, 8, 3), np.float32), None, None)])
    with pytest.raises(DataError, match="no frames"):
        bundle.predict_frames([])


def test_a_changed_missing_or_extra_file_is_refused(exported: ExportResult, tmp_path: Path) -> None:
    folder = copy_bundle(exported, tmp_path)
    load_bundle(folder)  # the copy itself is fine
    model = folder / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"bundle/model\.onnx: SHA-256 does not match"):
        load_bundle(folder)
    shutil.copyfile(exported.path / "model.onnx", model)
    (folder / "model.int8.onnx").unlink()
    with pytest.raises(DataError, match=r"model\.int8\.onnx: listed in the manifest but missing"):
        load_bundle(folder)
    shutil.copyfile(exported.path / "model.int8.onnx", folder / "model.int8.onnx")
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt: file not listed in the manifest"):
        load_bundle(folder)
    (folder / "notes.txt").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"format": "other/9"}))
    with pytest.raises(DataError, match="format is 'other/9'"):
        load_bundle(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(NotFoundError, match=r"bundle has no manifest\.json"):
        load_bundle(folder)
    with pytest.raises(NotFoundError, match="no such bundle folder"):
        load_bundle(tmp_path / "nowhere")


def test_int8_asked_of_a_bundle_without_one(exported: ExportResult, tmp_path: Path) -> None:
    folder = copy_bundle(exported, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["model.int8.onnx"]
    manifest["int8"] = {"status": "rejected", "reason": "lost 3 points"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "model.int8.onnx").unlink()
    with pytest.raises(NotFoundError, match=r"has no model\.int8\.onnx \(lost 3 points\)"):
        load_bundle(folder, int8=True)


PROBE = """
import json, sys
before = set(sys.modules)
import robotops.runtime, robotops.runtime.command
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_the_runtime_imports_only_numpy_and_onnxruntime() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    for heavy in ("torch", "onnx", "pyarrow", "lance", "pydantic", "PIL", "typer", "rich"):
        assert heavy not in loaded, heavy
    assert loaded - set(sys.stdlib_module_names) <= {"numpy", "onnxruntime", "robotops"}
    robotops_modules = {n for n in json.loads(result.stdout) if n.startswith("robotops.")}
    assert {n.split(".")[1] for n in robotops_modules} <= {"errors", "runtime", "transforms"}


def test_public_api() -> None:
    assert sorted(robotops.runtime.__all__) == sorted(
        [
            "BUNDLE_FORMAT",
            "MANIFEST",
            "MODEL",
            "MODEL_INT8",
            "Bundle",
            "Frame",
            "Prediction",
            "load_bundle",
            "softmax",
        ]
    )
    np.testing.assert_allclose(
        softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])), [[0.5, 0.5], [1.0, 0.0]]
    )


def runtime_cli(*args: str, python: str = sys.executable, **env: str):
    return subprocess.run(
        [python, "-m", "robotops.runtime", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), **env},
    )


def raw_npz(path: Path, frames: list) -> Path:
    arrays = {}
    for i, frame in enumerate(frames):
        for key, value in zip(("rgb", "depth_mm", "xyz"), frame, strict=True):
            if value is not None:
                arrays[f"frame_{i}_{key}"] = value
    np.savez(path, **arrays)
    return path


def test_the_command_predicts_preprocessed_and_raw_inputs(
    exported: ExportResult, checkpoint: Path, tmp_path: Path
) -> None:
    frames = raw_frames(5, seed=7)
    expected = torch_probabilities(checkpoint, frames)
    batch = stack_samples([preprocess_frame(*f, SPEC) for f in frames])
    np.savez(tmp_path / "pre.npz", **batch)
    raw_npz(tmp_path / "raw.npz", frames)
    for name in ("pre", "raw"):
        out = tmp_path / f"{name}-out.npz"
        result = runtime_cli(
            str(exported.path), "--inputs", str(tmp_path / f"{name}.npz"), "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
        with np.load(out, allow_pickle=False) as got:
            np.testing.assert_allclose(got["probabilities"], expected, atol=1e-5)
            assert list(got["classes"]) == list(CLASSES)
            assert list(got["labels"]) == [CLASSES[i] for i in expected.argmax(1)]
            assert got["index"].tolist() == expected.argmax(1).tolist()
    result = runtime_cli(
        str(exported.path),
        "--inputs",
        str(tmp_path / "pre.npz"),
        "--out",
        str(tmp_path / "int8.npz"),
        "--int8",
    )
    assert result.returncode == 0, result.stderr


def test_the_command_fails_in_one_line(exported: ExportResult, tmp_path: Path) -> None:
    np.savez(tmp_path / "junk.npz", something=np.zeros(3))
    result = runtime_cli(
        str(exported.path),
        "--inputs",
        str(tmp_path / "junk.npz"),
        "--out",
        str(tmp_path / "out.npz"),
    )
    assert result.returncode == DataError.exit_code
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "junk.npz: neither preprocessed arrays" in result.stderr
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.slow
def test_the_runtime_runs_in_a_clean_venv_without_torch(
    exported: ExportResult, checkpoint: Path, tmp_path: Path
) -> None:
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    python = str(env / "bin" / "python")
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "numpy",
            "onnxruntime",
        ],
        check=True,
        timeout=600,
    )
    probe = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "True"  # torch is not importable there
    frames = raw_frames(4, seed=8)
    out = tmp_path / "out.npz"
    result = runtime_cli(
        str(exported.path),
        "--inputs",
        str(raw_npz(tmp_path / "raw.npz", frames)),
        "--out",
        str(out),
        python=python,
    )
    assert result.returncode == 0, result.stderr
    with np.load(out, allow_pickle=False) as got:
        np.testing.assert_allclose(
            got["probabilities"], torch_probabilities(checkpoint, frames), atol=1e-5
        )
