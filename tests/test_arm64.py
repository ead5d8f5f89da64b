"""scripts/arm64_check.py: its pure parts and the bundle it builds, natively.

The emulated run itself downloads about 130 MB and is `make arm64-check`, kept out of the test
suite.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "arm64_check.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arm64_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


arm64 = _load()


# --- /proc/cpuinfo -----------------------------------------------------------------------------


def test_cpuinfo_lists_one_arm_core_per_cpu() -> None:
    text = arm64.cpuinfo_text(3)
    blocks = [block for block in text.split("\n\n") if block.strip()]
    assert len(blocks) == 3
    assert [b.splitlines()[0] for b in blocks] == [f"processor\t: {i}" for i in range(3)]
    for block in blocks:
        fields = dict(line.split(":", 1) for line in block.splitlines())
        assert fields["CPU implementer\t"].strip() == "0x41"  # Arm Ltd.
        assert fields["CPU architecture"].strip() == "8"
        assert "asimd" in fields["Features\t"].split()


def test_cpuinfo_needs_a_cpu() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        arm64.cpuinfo_text(0)


# --- wheels ------------------------------------------------------------------------------------


def test_platforms_cover_every_glibc_down_to_manylinux2014() -> None:
    tags = arm64.aarch64_platforms((2, 36))
    assert tags[0] == "manylinux_2_36_aarch64"
    assert "manylinux_2_28_aarch64" in tags
    assert "manylinux_2_17_aarch64" in tags
    assert tags[-1] == "manylinux2014_aarch64"
    assert "manylinux_2_37_aarch64" not in tags
    assert all(tag.endswith("_aarch64") for tag in tags)


@pytest.mark.parametrize(
    ("filename", "name", "version", "kind"),
    [
        (
            "numpy-2.4.6-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
            "numpy",
            "2.4.6",
            "aarch64",
        ),
        ("protobuf-7.36.2-cp310-abi3-manylinux2014_aarch64.whl", "protobuf", "7.36.2", "aarch64"),
        ("flatbuffers-25.12.19-py2.py3-none-any.whl", "flatbuffers", "25.12.19", "pure"),
        ("Foo_Bar-1.0-1-py3-none-any.whl", "foo-bar", "1.0", "pure"),  # with a build tag
        (
            "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            "onnxruntime",
            "1.32.0",
            "other",
        ),
    ],
)
def test_parse_wheel(filename: str, name: str, version: str, kind: str) -> None:
    wheel = arm64.parse_wheel(filename)
    assert (wheel.name, wheel.version, wheel.kind) == (name, version, kind)
    assert wheel.runs_on_aarch64 == (kind != "other")


@pytest.mark.parametrize("filename", ["numpy-2.4.6.tar.gz", "numpy-cp311.whl"])
def test_parse_wheel_refuses_other_files(filename: str) -> None:
    with pytest.raises(ValueError, match="wheel"):
        arm64.parse_wheel(filename)


def test_wheel_table_flags_a_wheel_that_is_not_for_aarch64(capsys: pytest.CaptureFixture) -> None:
    good = arm64.parse_wheel("packaging-26.4-py3-none-any.whl")
    bad = arm64.parse_wheel("onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    assert arm64.print_wheel_table([good])
    assert not arm64.print_wheel_table([good, bad])
    assert "not installable on aarch64" in capsys.readouterr().out


def test_missing_distribution_is_read_from_pip_output() -> None:
    output = (
        "ERROR: Could not find a version that satisfies the requirement foo==1.0 "
        "(from versions: none)\nERROR: No matching distribution found for foo==1.0\n"
    )
    assert arm64.missing_distribution(output) == "foo==1.0"
    assert arm64.missing_distribution("ERROR: network unreachable") is None


def test_runtime_requirements_pin_the_runtime_extra_and_numpy() -> None:
    pyproject = {"project": {"optional-dependencies": {"runtime": ["onnxruntime>=1.20,<2"]}}}
    versions = {"onnxruntime": "1.32.0", "numpy": "2.4.6"}
    assert arm64.runtime_requirements(pyproject, versions.get) == [
        "onnxruntime==1.32.0",
        "numpy==2.4.6",
    ]


def test_runtime_requirements_without_a_runtime_extra() -> None:
    versions = {"onnxruntime": "1.32.0", "numpy": "2.4.6"}
    assert arm64.runtime_requirements({"project": {}}, versions.get) == [
        "numpy==2.4.6",
        "onnxruntime==1.32.0",
    ]


def test_runtime_requirements_need_the_packages_installed() -> None:
    with pytest.raises(arm64.CheckError, match="onnxruntime is not installed"):
        arm64.runtime_requirements({}, {"numpy": "2.4.6"}.get)


# --- comparison --------------------------------------------------------------------------------


def _probs(rows: list[list[float]]) -> dict[str, np.ndarray]:
    return {"probs": np.asarray(rows, dtype=np.float32)}


def test_compare_passes_within_tolerance() -> None:
    native = _probs([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    emulated = _probs([[0.70003, 0.19997, 0.1], [0.1, 0.1, 0.8]])
    (row,) = arm64.compare_outputs("fp32", native, emulated, 1e-4)
    assert row.ok
    assert row.max_abs_diff == pytest.approx(3e-5, abs=1e-6)
    assert row.argmax_agree == 1.0


def test_compare_fails_beyond_tolerance() -> None:
    (row,) = arm64.compare_outputs(
        "fp32", _probs([[0.7, 0.2, 0.1]]), _probs([[0.69, 0.21, 0.1]]), 1e-4
    )
    assert not row.ok
    assert row.max_abs_diff == pytest.approx(0.01, abs=1e-6)


def test_compare_fails_when_the_predicted_class_flips() -> None:
    native, emulated = _probs([[0.5, 0.49, 0.01]]), _probs([[0.49, 0.5, 0.01]])
    (row,) = arm64.compare_outputs("int8", native, emulated, 0.05)
    assert row.max_abs_diff <= row.tolerance
    assert row.argmax_agree == 0.0
    assert not row.ok


@pytest.mark.parametrize(
    ("emulated", "problem"),
    [
        ({"probs": np.zeros((2, 3), np.float32)}, "shape"),
        ({"probs": np.full((1, 3), np.nan, np.float32)}, "NaN"),
        ({"other": np.zeros((1, 3), np.float32)}, "missing"),
    ],
)
def test_compare_reports_structural_problems(emulated: dict, problem: str) -> None:
    rows = arm64.compare_outputs("fp32", _probs([[0.2, 0.3, 0.5]]), emulated, 1.0)
    assert any(problem in row.problem for row in rows)
    assert not any(row.ok for row in rows if row.problem)


def test_compare_requires_equal_labels_and_indices() -> None:
    native = {"labels": np.asarray(["glass_door", "no_door"]), "index": np.asarray([0, 2])}
    same = arm64.compare_outputs("fp32", native, dict(native), 1e-4)
    assert all(row.ok and row.tolerance == 0.0 for row in same)
    flipped = {"labels": np.asarray(["glass_door", "wooden_door"]), "index": np.asarray([0, 1])}
    rows = arm64.compare_outputs("fp32", native, flipped, 1e-4)
    assert [row.problem for row in rows] == ["values differ", "values differ"]


# --- the fallback bundle, run by the real runtime (natively) -----------------------------------


def test_own_bundle_loads_in_robotops_runtime(tmp_path: Path) -> None:
    import robotops.runtime as runtime

    bundle = arm64.build_own_bundle(tmp_path / "bundle")
    arrays = arm64.model_inputs(bundle / "model.onnx", batch=2)
    assert arrays["rgb"].shape[:2] == (2, 3)
    assert arrays["lidar_mask"].shape == arrays["lidar"].shape[:2]
    for int8 in (False, True):
        loaded = runtime.load_bundle(bundle, int8=int8)
        probabilities = loaded.predict_arrays(arrays)
        assert probabilities.shape == (2, 3)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_runtime_command_is_the_robot_entry_point(tmp_path: Path) -> None:
    cmd = arm64.runtime_command(["py"], tmp_path, tmp_path / "in.npz", tmp_path / "o.npz", True)
    assert cmd[:3] == ["py", "-m", "robotops.runtime"]
    assert cmd[-1] == "--int8"


def test_bad_arguments_exit_with_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--batch", "0"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "--batch must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr
