#!/usr/bin/env python3
"""Run an ONNX bundle under an emulated ARM64 userland and compare its outputs with x86-64.

``make arm64-check`` runs this script. It answers two questions a robot team asks before shipping
a bundle to an ARM64 robot (Jetson, Raspberry Pi, Graviton):

1. Does every runtime dependency (``numpy``, ``onnxruntime`` and what they require) have an
   aarch64 wheel for Python 3.11?  ``pip download --platform ...`` resolves the whole tree for
   aarch64 and a table lists each wheel.
2. Does the bundle give the same answers on ARM64?  The bundle runs natively and under QEMU user
   emulation (Debian's ``qemu-aarch64-static -L ROOTFS``, no Docker, no root, no binfmt), on the
   same inputs, and the largest absolute difference must stay within a tolerance.

The emulated userland is assembled from a few arm64 Debian bookworm packages (libc, Python 3.11)
fetched with a private apt configuration (nothing on the host changes) plus the aarch64 wheels,
all cached under ``.arm64/`` so that a second run is offline. QEMU 7.2 does not emulate
``/proc/cpuinfo`` for aarch64 and onnxruntime's CPU detection crashes on the host's x86 one, so
an ARM-style ``proc/cpuinfo`` is written inside the rootfs, where ``-L`` redirects the read.

The bundle comes from ``--bundle DIR`` when given, else from ``robotops.export`` (a freshly
initialised fusion model, exported with random held-out frames) when that package exists, and
otherwise (or with ``--tiny-model``) from a tiny ONNX model built
here with the same input signature and a ``robotops-bundle/1`` manifest. Both runs use the robot's
own entry point, ``python -m robotops.runtime``, so the emulated run also proves that the runtime
imports nothing beyond NumPy and ONNX Runtime: the ARM64 interpreter has nothing else.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / ".arm64"
PYTHON_VERSION = "3.11"
#: Debian release whose arm64 packages make the userland (the version of this machine's host OS
#: does not matter: the emulated programs only see the rootfs).
DEBIAN_SUITE = "bookworm"
#: glibc in that release; wheels built for any older manylinux_2_X run on it.
DEBIAN_GLIBC = (2, 36)
QEMU_PACKAGE = "qemu-user-static"
#: arm64 packages for a Python 3.11 that can import NumPy and ONNX Runtime. No dependency
#: resolution on purpose: resolving against an empty arm64 dpkg status would pull hundreds.
ARM64_PACKAGES: tuple[str, ...] = (
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "zlib1g",
    "libffi8",
    "libexpat1",
    "libssl3",
    "libbz2-1.0",
    "liblzma5",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "python3.11-minimal",
)
#: Runtime dependencies when pyproject.toml has no ``runtime`` extra yet.
FALLBACK_RUNTIME_DEPS: tuple[str, ...] = ("numpy", "onnxruntime")
FP32_TOLERANCE = 1e-4
#: int8 kernels differ between x86-64 (VNNI/AVX2 u8s8) and ARM64 (NEON/dot-product), so their
#: rounding differs; a looser bound on probabilities, and the predicted class must agree.
INT8_TOLERANCE = 2e-2
BATCH = 4

# Exit codes as in robotops.errors (kept apart: --help and the pure helpers need no robotops).
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_OUTPUT = 6
EXIT_CHECK_FAILED = 10


class CheckError(Exception):
    """An expected failure: printed as one line, the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def say(message: str) -> None:
    """Print a progress line (flushed, so ``make`` shows it while the next step runs)."""
    print(f"[arm64-check] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# Pure helpers (unit-tested in tests/test_arm64.py)
# --------------------------------------------------------------------------------------------


def cpuinfo_text(n_cpus: int) -> str:
    """An aarch64 ``/proc/cpuinfo`` describing ``n_cpus`` Neoverse-N1 cores.

    ONNX Runtime's cpuinfo library parses this file on ARM; under QEMU 7.2 the guest would
    otherwise read the host's x86 file and crash while importing onnxruntime.
    """
    if n_cpus < 1:
        raise ValueError(f"n_cpus must be at least 1, got {n_cpus}")
    features = (
        "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc "
        "dcpop asimddp"
    )
    blocks = [
        f"processor\t: {index}\n"
        "BogoMIPS\t: 50.00\n"
        f"Features\t: {features}\n"
        "CPU implementer\t: 0x41\n"
        "CPU architecture: 8\n"
        "CPU variant\t: 0x3\n"
        "CPU part\t: 0xd0c\n"
        "CPU revision\t: 1\n"
        for index in range(n_cpus)
    ]
    return "\n".join(blocks) + "\n"


def aarch64_platforms(glibc: tuple[int, int] = DEBIAN_GLIBC) -> list[str]:
    """The pip ``--platform`` tags a glibc-``glibc`` aarch64 system accepts, newest first.

    pip does not expand a ``manylinux_2_X`` platform to older glibc versions by itself, so every
    one from 2.17 (manylinux2014) up is listed.
    """
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_aarch64" for m in range(minor, 16, -1)]
    return [*tags, "manylinux2014_aarch64"]


@dataclass(frozen=True)
class Wheel:
    """One resolved wheel of the runtime's dependency tree."""

    name: str
    version: str
    tag: str
    kind: str  # "aarch64" (compiled for it), "pure" (any platform) or "other"

    @property
    def runs_on_aarch64(self) -> bool:
        """Whether this wheel installs on an aarch64 Linux robot."""
        return self.kind in ("aarch64", "pure")


def parse_wheel(filename: str) -> Wheel:
    """Name, version, platform tag and kind of a wheel from its file name (PEP 427).

    Raises:
        ValueError: ``filename`` is not a wheel file name.
    """
    if not filename.endswith(".whl"):
        raise ValueError(f"not a wheel: {filename}")
    parts = filename[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise ValueError(f"not a wheel file name: {filename}")
    name, version = parts[0], parts[1]
    python_tag, abi_tag, platform_tag = parts[-3:]
    platforms = platform_tag.split(".")
    if all(p == "any" for p in platforms):
        kind = "pure"
    elif any(p.endswith("_aarch64") for p in platforms):
        kind = "aarch64"
    else:
        kind = "other"
    canonical = re.sub(r"[-_.]+", "-", name).lower()
    return Wheel(canonical, version, f"{python_tag}-{abi_tag}-{platform_tag}", kind)


def missing_distribution(pip_output: str) -> str | None:
    """The requirement pip found no matching wheel for, from its error output, if any."""
    match = re.search(r"No matching distribution found for (\S+)", pip_output)
    return match.group(1) if match else None


def runtime_requirements(
    pyproject: Mapping[str, Any], installed: Callable[[str], str | None]
) -> list[str]:
    """Pinned requirements for the robot runtime, read from ``pyproject.toml``.

    The runtime needs NumPy (a core dependency) plus the ``runtime`` extra (ONNX Runtime); without
    that extra, NumPy and ONNX Runtime. Each is pinned to the version installed here, so the
    emulated run compares like with like.

    Args:
        pyproject: The parsed ``pyproject.toml``.
        installed: Returns the installed version of a distribution, or None.

    Raises:
        CheckError: A runtime dependency is not installed on this machine.
    """
    project = pyproject.get("project", {})
    extra = project.get("optional-dependencies", {}).get("runtime")
    specs = list(extra) if extra else []
    names = [_requirement_name(spec) for spec in specs]
    for name in FALLBACK_RUNTIME_DEPS:
        if name not in names:
            names.append(name)
    pins = []
    for name in names:
        version = installed(name)
        if version is None:
            raise CheckError(
                f"{name} is not installed here; run `make test` once (installs the dev extra)",
                EXIT_USAGE,
            )
        pins.append(f"{name}=={version}")
    return pins


def _requirement_name(spec: str) -> str:
    """The distribution name of a PEP 508 requirement string, normalised."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    if not match:
        raise CheckError(f"pyproject.toml: unreadable requirement {spec!r}", EXIT_DATA)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


@dataclass(frozen=True)
class Comparison:
    """How one output array differs between the native and the emulated run."""

    model: str
    key: str
    max_abs_diff: float
    tolerance: float  # 0 for values that must be equal (indices, labels)
    argmax_agree: float | None  # rows whose largest entry is at the same index; None: not (N,K)
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Within tolerance, same shapes and the same predicted class in every row."""
        same_class = self.argmax_agree is None or self.argmax_agree == 1
        return not self.problem and self.max_abs_diff <= self.tolerance and same_class


def compare_outputs(
    model: str,
    native: Mapping[str, Any],
    emulated: Mapping[str, Any],
    tolerance: float,
) -> list[Comparison]:
    """Compare every output array of the two runs.

    Floating-point arrays must agree within ``tolerance`` and, when two-dimensional (N, K), pick
    the same largest entry in every row; other arrays (class indices, labels) must be equal.

    Args:
        model: A label for the report (``fp32``, ``int8``).
        native: Arrays by key from the x86-64 run.
        emulated: Arrays by key from the ARM64 run.
        tolerance: Largest allowed absolute difference.

    Returns:
        One comparison per key in either run; a key missing from one side, a shape mismatch, a NaN
        or unequal non-float values are problems.
    """
    rows = []
    for key in sorted(set(native) | set(emulated)):
        if key not in native or key not in emulated:
            side = "emulated" if key not in emulated else "native"
            rows.append(Comparison(model, key, float("inf"), tolerance, 0.0, f"missing {side}"))
            continue
        a, b = np.asarray(native[key]), np.asarray(emulated[key])
        if a.shape != b.shape:
            problem = f"shape {a.shape} != {b.shape}"
            rows.append(Comparison(model, key, float("inf"), tolerance, 0.0, problem))
            continue
        if a.dtype.kind != "f" or b.dtype.kind != "f":
            equal = bool(np.array_equal(a, b))
            diff, problem = (0.0, "") if equal else (float("inf"), "values differ")
            rows.append(Comparison(model, key, diff, 0.0, None, problem))
            continue
        a, b = a.astype(np.float64), b.astype(np.float64)
        if np.isnan(a).any() or np.isnan(b).any():
            rows.append(Comparison(model, key, float("inf"), tolerance, 0.0, "NaN in output"))
            continue
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        agree = None
        if a.ndim == 2 and a.size:
            agree = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
        rows.append(Comparison(model, key, diff, tolerance, agree))
    return rows


# --------------------------------------------------------------------------------------------
# Downloads and the emulated userland, all cached under .arm64/
# --------------------------------------------------------------------------------------------


def _run_quiet(cmd: Sequence[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure raise a one-line error with the last line of its output."""
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {result.returncode}"
        raise CheckError(f"{what} failed: {last.strip()}")
    return result


def _stamp_matches(stamp: Path, content: str) -> bool:
    return stamp.is_file() and stamp.read_text() == content


def fetch_wheels(cache: Path, requirements: Sequence[str]) -> list[Wheel]:
    """Download the aarch64 wheels of ``requirements`` and their dependencies (once).

    Raises:
        CheckError: Some dependency has no wheel for aarch64 and Python 3.11.
    """
    folder = cache / "wheels"
    stamp = folder / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if not _stamp_matches(stamp, wanted):
        say(f"resolving aarch64 wheels for Python {PYTHON_VERSION}: {' '.join(requirements)}")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        platforms = [arg for p in aarch64_platforms() for arg in ("--platform", p)]
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
            *platforms, "--python-version", PYTHON_VERSION, "--implementation", "cp",
            "--abi", "cp" + PYTHON_VERSION.replace(".", ""), "--dest", str(folder),
            *requirements,
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            missing = missing_distribution(result.stderr + result.stdout)
            if missing:
                raise CheckError(
                    f"no aarch64 wheel for Python {PYTHON_VERSION}: {missing}", EXIT_CHECK_FAILED
                )
            raise CheckError(f"pip download failed: {_last_line(result)}")
        stamp.write_text(wanted)
    else:
        say(f"aarch64 wheels cached in {folder}")
    return sorted((parse_wheel(path.name) for path in folder.glob("*.whl")), key=lambda w: w.name)


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit code {result.returncode}"


def print_wheel_table(wheels: Iterable[Wheel]) -> bool:
    """Print the wheel table; True when every wheel installs on aarch64."""
    wheels = list(wheels)
    say(f"runtime dependencies for linux/aarch64, Python {PYTHON_VERSION}:")
    width = max([len(w.name) for w in wheels] + [7])
    print(f"  {'package':<{width}}  {'version':<12}  {'kind':<8}  wheel tag")
    for wheel in wheels:
        mark = "" if wheel.runs_on_aarch64 else "   <-- not installable on aarch64"
        print(f"  {wheel.name:<{width}}  {wheel.version:<12}  {wheel.kind:<8}  {wheel.tag}{mark}")
    return all(w.runs_on_aarch64 for w in wheels)


def _apt_options(cache: Path) -> list[str]:
    """apt-get options for a private configuration under ``cache/apt``.

    The host's apt state, sources and architectures stay untouched (no ``dpkg
    --add-architecture``); the archive keys are the host's Debian keyring.
    """
    apt = cache / "apt"
    for sub in ("state/lists/partial", "cache/archives/partial"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    (apt / "state/status").touch()
    sources = apt / "sources.list"
    mirror = "http://deb.debian.org"
    sources.write_text(
        f"deb [arch=amd64,arm64] {mirror}/debian {DEBIAN_SUITE} main\n"
        f"deb [arch=amd64,arm64] {mirror}/debian {DEBIAN_SUITE}-updates main\n"
        f"deb [arch=amd64,arm64] {mirror}/debian-security {DEBIAN_SUITE}-security main\n"
    )
    options = {
        "Dir::State": apt / "state",
        "Dir::State::status": apt / "state/status",
        "Dir::Cache": apt / "cache",
        "Dir::Etc::SourceList": sources,
        "Dir::Etc::SourceParts": apt / "sources.list.d",
        "APT::Architecture": "amd64",
        "Acquire::Languages": "none",
        # Downloads land in a folder the unprivileged _apt user may not write to.
        "APT::Sandbox::User": "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody"),
    }
    args = [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]
    return [*args, "-o", "APT::Architectures::=amd64", "-o", "APT::Architectures::=arm64"]


def fetch_debs(cache: Path) -> list[Path]:
    """Download qemu-user-static (amd64) and the arm64 userland packages (once)."""
    folder = cache / "debs"
    stamp = folder / "packages.txt"
    wanted = [f"{QEMU_PACKAGE}:amd64", *(f"{name}:arm64" for name in ARM64_PACKAGES)]
    if _stamp_matches(stamp, "\n".join(wanted) + "\n"):
        say(f"Debian packages cached in {folder}")
        return sorted(folder.glob("*.deb"))
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise CheckError("apt-get and dpkg-deb are needed to fetch the emulated userland (Debian)")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    options = _apt_options(cache)
    say(f"apt-get update (private index of Debian {DEBIAN_SUITE} amd64+arm64, ~20 MB)")
    _run_quiet(["apt-get", *options, "-q", "update"], "apt-get update")
    say(f"downloading {QEMU_PACKAGE} and {len(ARM64_PACKAGES)} arm64 packages (~75 MB)")
    _run_quiet(["apt-get", *options, "-q", "download", *wanted], "apt-get download", cwd=folder)
    stamp.write_text("\n".join(wanted) + "\n")
    return sorted(folder.glob("*.deb"))


@dataclass(frozen=True)
class Userland:
    """The emulator and the arm64 root it runs Python in."""

    qemu: Path
    rootfs: Path
    site: Path

    @property
    def python(self) -> Path:
        """The arm64 Python 3.11 interpreter inside the rootfs."""
        return self.rootfs / "usr" / "bin" / f"python{PYTHON_VERSION}"


def _extract_one(deb: Path, member: str, dest: Path) -> None:
    """Unpack one file of a .deb (qemu-user-static holds ~370 MB of emulators; one is needed)."""
    unpack = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert unpack.stdout is not None
    tar = subprocess.run(
        ["tar", "-x", "-C", str(dest), member],
        stdin=unpack.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    unpack.stdout.close()
    if unpack.wait() != 0 or tar.returncode != 0:
        raise CheckError(f"cannot unpack {member} from {deb.name}: {_last_line(tar)}")


def build_userland(cache: Path, debs: Sequence[Path], wheels_folder: Path) -> Userland:
    """Unpack the packages and wheels into ``cache`` (again only when they changed)."""
    qemu_dir, rootfs, site = cache / "qemu", cache / "rootfs", cache / "site"
    deb_names = "\n".join(path.name for path in debs) + "\n"
    stamp = cache / "rootfs.stamp"
    if not _stamp_matches(stamp, deb_names):
        say("unpacking qemu-user-static and the arm64 rootfs")
        for folder in (qemu_dir, rootfs):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for deb in debs:
            if deb.name.startswith(QEMU_PACKAGE):
                _extract_one(deb, "./usr/bin/qemu-aarch64-static", qemu_dir)
            else:
                _run_quiet(["dpkg-deb", "-x", str(deb), str(rootfs)], f"dpkg-deb -x {deb.name}")
        stamp.write_text(deb_names)
    # Rewritten every run: the host's CPU count may differ from the one that built the cache.
    (rootfs / "proc").mkdir(exist_ok=True)
    (rootfs / "proc" / "cpuinfo").write_text(cpuinfo_text(os.cpu_count() or 1))

    wheels = sorted(wheels_folder.glob("*.whl"))
    wheel_names = "\n".join(path.name for path in wheels) + "\n"
    site_stamp = cache / "site.stamp"
    if not _stamp_matches(site_stamp, wheel_names):
        say(f"unpacking {len(wheels)} aarch64 wheels into {site}")
        shutil.rmtree(site, ignore_errors=True)
        site.mkdir(parents=True)
        for wheel in wheels:
            # A wheel is a zip laid out as site-packages; no installer is needed for a check.
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site)
        site_stamp.write_text(wheel_names)

    qemu = qemu_dir / "usr" / "bin" / "qemu-aarch64-static"
    userland = Userland(qemu, rootfs, site)
    if not qemu.is_file() or not userland.python.is_file():
        raise CheckError(f"incomplete emulated userland in {cache}; delete it and run again")
    return userland


# --------------------------------------------------------------------------------------------
# The bundle, its inputs and the two runs
# --------------------------------------------------------------------------------------------


def tiny_onnx_model(path: Path, height: int, width: int, points: int, seed: int = 0) -> Path:
    """Write a small ONNX model with the robotops input signature (the fallback bundle's).

    Inputs ``rgb`` (N,3,H,W), ``depth`` (N,2,H,W), ``lidar`` (N,P,3), ``present`` (N,3); output
    ``logits`` (N,3). Two small CNN branches, a PointNet-style branch (shared MLP, max-pool) and a
    linear head, so the check exercises the Conv, pooling and GEMM kernels that differ between
    the x86-64 and ARM64 builds of ONNX Runtime.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        scale = 1.0 / np.sqrt(np.prod(shape[1:]) if len(shape) > 1 else shape[0])
        values = rng.normal(0.0, scale, size=shape).astype(np.float32)
        return numpy_helper.from_array(values, name)

    features = 16 + 16 + 32 + 3
    inits = [
        weight("rgb_w", 16, 3, 3, 3), weight("rgb_b", 16),
        weight("depth_w", 16, 2, 3, 3), weight("depth_b", 16),
        weight("lidar_w", 3, 32), weight("lidar_b", 32),
        weight("head_w", features, 3), weight("head_b", 3),
    ]  # fmt: skip
    nodes = []
    for branch in ("rgb", "depth"):
        nodes += [
            helper.make_node(
                "Conv", [branch, f"{branch}_w", f"{branch}_b"], [f"{branch}_c"],
                pads=[1, 1, 1, 1], strides=[2, 2],
            ),
            helper.make_node("Relu", [f"{branch}_c"], [f"{branch}_r"]),
            helper.make_node("GlobalAveragePool", [f"{branch}_r"], [f"{branch}_p"]),
            helper.make_node("Flatten", [f"{branch}_p"], [f"{branch}_f"]),
        ]  # fmt: skip
    nodes += [
        helper.make_node("MatMul", ["lidar", "lidar_w"], ["lidar_m"]),
        helper.make_node("Add", ["lidar_m", "lidar_b"], ["lidar_a"]),
        helper.make_node("Relu", ["lidar_a"], ["lidar_r"]),
        helper.make_node("ReduceMax", ["lidar_r"], ["lidar_f"], axes=[1], keepdims=0),
        helper.make_node("Concat", ["rgb_f", "depth_f", "lidar_f", "present"], ["feat"], axis=1),
        helper.make_node("Gemm", ["feat", "head_w", "head_b"], ["logits"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
        for name, shape in _tiny_inputs(height, width, points).items()
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])]
    graph = helper.make_graph(nodes, "arm64_check_tiny", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _tiny_inputs(height: int, width: int, points: int) -> dict[str, list[int | str]]:
    """The tiny model's input shapes, ``N`` the batch."""
    return {
        "rgb": ["N", 3, height, width],
        "depth": ["N", 2, height, width],
        "lidar": ["N", points, 3],
        "present": ["N", 3],
    }


def build_own_bundle(folder: Path) -> Path:
    """A ``robotops-bundle/1`` folder with the tiny model and its dynamic-int8 version.

    The manifest is the runtime's format (constants from :mod:`robotops.runtime`), with the
    default preprocessing spec, so ``python -m robotops.runtime`` loads it like an export.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from robotops.runtime.manifest import BUNDLE_FORMAT, MANIFEST, MODEL, MODEL_INT8, file_sha256
    from robotops.transforms import PreprocessSpec

    spec = PreprocessSpec()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    size = (spec.image_height, spec.image_width, spec.lidar_points)
    fp32 = tiny_onnx_model(folder / MODEL, *size)
    # The quantiser logs advice about pre-processing on the root logger; not useful here.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(fp32, folder / MODEL_INT8, weight_type=QuantType.QUInt8)
    finally:
        root.setLevel(level)
    manifest = {
        "format": BUNDLE_FORMAT,
        "model": {"name": "arm64-check-tiny", "version": "0"},
        "classes": ["glass_door", "wooden_door", "no_door"],
        "inputs": [{"name": k, "shape": v} for k, v in _tiny_inputs(*size).items()],
        "outputs": [{"name": "logits", "shape": ["N", 3]}],
        "preprocess": spec.to_dict(),
        "files": {name: file_sha256(folder / name) for name in (MODEL, MODEL_INT8)},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def _has_module(relative: str) -> bool:
    return (REPO / "src" / "robotops" / relative).is_file()


def _export_available() -> bool:
    """Whether :func:`robotops.export.export_bundle` exists in this checkout."""
    return _has_module("export/__init__.py") and _has_module("export/bundle.py")


def build_exported_bundle(folder: Path, frames: int = 16) -> Path:
    """Export a freshly initialised fusion model with :func:`robotops.export.export_bundle`.

    The weights are random and the held-out and calibration frames are random arrays of the
    spec's shapes: numerical agreement between architectures needs neither a trained model nor
    a dataset. For the same reason the int8 accuracy gate is opened (``int8_tolerance=1.0``):
    the point is to get an int8 model to compare, not to judge its accuracy on noise.
    """
    import torch

    from robotops.errors import RobotopsError, one_line
    from robotops.export import export_bundle
    from robotops.models import build_model
    from robotops.train.checkpoint import model_meta, save_checkpoint
    from robotops.train.data import FrameArrays
    from robotops.transforms import PreprocessSpec, sample_shapes

    classes = ("glass_door", "wooden_door", "no_door")
    spec = PreprocessSpec()
    work = folder.parent / "export-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    torch.manual_seed(0)
    model = build_model("fusion", len(classes)).eval()
    checkpoint = save_checkpoint(
        work / "fusion.safetensors", model, model_meta(model, classes, spec.to_dict())
    )

    def random_frames(seed: int) -> FrameArrays:
        rng = np.random.default_rng(seed)
        arrays = {
            name: rng.normal(0.0, 1.0, size=(frames, *shape)).astype(np.float32)
            for name, shape in sample_shapes(spec).items()
        }
        for name in ("present", "lidar_mask"):
            if name in arrays:
                arrays[name] = np.ones_like(arrays[name])
        labels = rng.integers(0, len(classes), size=frames).astype(np.int64)
        ids = tuple(f"random-{seed}-{i}" for i in range(frames))
        return FrameArrays(arrays, labels, ids, classes, cached=False)

    try:
        export_bundle(
            checkpoint,
            folder,
            random_frames(1),
            calibration=random_frames(2),
            name="arm64-check-fusion",
            version="0",
            int8_tolerance=1.0,
        )
    except RobotopsError as err:
        raise CheckError(f"robotops export failed: {one_line(err)}", err.exit_code) from err
    return folder


def model_inputs(model: Path, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random preprocessed-looking inputs for every input of ``model``, batch ``batch``.

    Shapes come from the model (symbolic dimensions are the batch). ``lidar_mask`` (N,P) goes
    along with ``lidar``, as :func:`robotops.transforms.stack_samples` writes it.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for spec in session.get_inputs():
        shape = [dim if isinstance(dim, int) else batch for dim in spec.shape]
        if spec.name == "present":
            arrays[spec.name] = np.ones(shape, np.float32)
        elif spec.name == "depth":
            value = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
            value[:, 1] = (value[:, 0] > 0.1).astype(np.float32)
            value[:, 0] *= value[:, 1]
            arrays[spec.name] = value
        else:
            arrays[spec.name] = rng.normal(0.0, 1.0, size=shape).astype(np.float32)
    if "lidar" in arrays and "lidar_mask" not in arrays:
        n, points = arrays["lidar"].shape[:2]
        arrays["lidar_mask"] = np.ones((n, points), np.float32)
    return arrays


def runtime_command(
    python: Sequence[str], bundle: Path, inputs: Path, out: Path, int8: bool
) -> list[str]:
    """``python -m robotops.runtime BUNDLE --inputs IN --out OUT [--int8]``."""
    cmd = [*python, "-m", "robotops.runtime", str(bundle), "--inputs", str(inputs)]
    return [*cmd, "--out", str(out), *(["--int8"] if int8 else [])]


def run_bundle(
    label: str, cmd: Sequence[str], env: Mapping[str, str], out: Path
) -> tuple[dict[str, np.ndarray], float]:
    """Run one inference command; its outputs and wall time in seconds."""
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=dict(env), check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise CheckError(f"{label} run failed: {_last_line(result)}", EXIT_CHECK_FAILED)
    with np.load(out, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}, seconds


def native_env() -> dict[str, str]:
    """Environment for the x86-64 run: this venv, the repo's src first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


def emulated_env(userland: Userland, cache: Path) -> dict[str, str]:
    """Environment for the ARM64 run: only the aarch64 wheels and the repo's src on the path."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(userland.site), str(REPO / "src")])
    env["PYTHONNOUSERSITE"] = "1"
    # Keeps the emulated interpreter's bytecode apart from the host's, and warm runs fast.
    env["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
    return env


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------


def _bundle(args: argparse.Namespace, work: Path) -> tuple[Path, str]:
    """The bundle to check and where it came from."""
    if args.bundle is not None:
        bundle = args.bundle.resolve()
        if not (bundle / "model.onnx").is_file():
            raise CheckError(f"{bundle}: not a bundle (no model.onnx)", EXIT_USAGE)
        return bundle, f"{bundle}"
    if _export_available() and not args.tiny_model:
        say("exporting a freshly initialised fusion model with robotops.export (PyTorch)")
        return build_exported_bundle(work / "bundle"), "robotops export (fusion, random weights)"
    bundle = build_own_bundle(work / "bundle")
    why = "--tiny-model" if args.tiny_model else "robotops.export not available"
    return bundle, f"tiny ONNX model built by this script ({why})"


def check(args: argparse.Namespace) -> int:
    """Run the whole check; 0 when every output agrees."""
    import tomllib
    from importlib import metadata

    started = time.perf_counter()
    cache: Path = args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheels = fetch_wheels(cache, runtime_requirements(pyproject, installed))
    if not print_wheel_table(wheels):
        raise CheckError("some runtime dependency has no aarch64 wheel", EXIT_CHECK_FAILED)
    if args.wheels_only:
        say("PASS: every runtime dependency has an aarch64 wheel")
        return 0
    if not _has_module("runtime/__main__.py"):
        raise CheckError("src/robotops/runtime/__main__.py not found: nothing to run", EXIT_USAGE)

    debs = fetch_debs(cache)
    userland = build_userland(cache, debs, cache / "wheels")
    prepared = time.perf_counter() - started

    work = cache / "run"
    work.mkdir(exist_ok=True)
    bundle, source = _bundle(args, work)
    say(f"bundle: {source}")
    inputs = work / "inputs.npz"
    np.savez(inputs, **model_inputs(bundle / "model.onnx", args.batch))

    variants = [("fp32", False, args.tolerance)]
    if (bundle / "model.int8.onnx").is_file() and not args.no_int8:
        variants.append(("int8", True, args.int8_tolerance))
    emulated_python = [str(userland.qemu), "-L", str(userland.rootfs), str(userland.python)]
    comparisons: list[Comparison] = []
    timings: list[str] = []
    for label, int8, tolerance in variants:
        native_out, emulated_out = work / f"native-{label}.npz", work / f"arm64-{label}.npz"
        say(f"{label}: python -m robotops.runtime natively (x86-64)")
        native, native_s = run_bundle(
            f"native {label}",
            runtime_command([sys.executable], bundle, inputs, native_out, int8),
            native_env(),
            native_out,
        )
        say(f"{label}: python -m robotops.runtime under qemu-aarch64 (emulated ARM64, slower)")
        emulated, emulated_s = run_bundle(
            f"emulated ARM64 {label}",
            runtime_command(emulated_python, bundle, inputs, emulated_out, int8),
            emulated_env(userland, cache),
            emulated_out,
        )
        timings.append(f"{label}: native {native_s:.1f} s, emulated {emulated_s:.1f} s")
        comparisons += compare_outputs(label, native, emulated, tolerance)

    total = time.perf_counter() - started
    print()
    say(f"outputs on {args.batch} frames, x86-64 vs emulated ARM64 (aarch64):")
    header = f"{'model':<6} {'output':<14} {'max |diff|':>11} {'tolerance':>10} {'argmax':>7}"
    print(f"  {header}  result")
    for row in comparisons:
        verdict = "ok" if row.ok else f"MISMATCH {row.problem}".rstrip()
        print(
            f"  {row.model:<6} {row.key:<14} {row.max_abs_diff:>11.3e} {row.tolerance:>10.1e}"
            f" {'-' if row.argmax_agree is None else f'{row.argmax_agree:.0%}':>7}  {verdict}"
        )
    for line in timings:
        say(line)
    say(f"wall time {total:.1f} s (downloads and unpacking {prepared:.1f} s)")
    failed = [row for row in comparisons if not row.ok]
    if failed or not comparisons:
        names = ", ".join(f"{row.model}/{row.key}" for row in failed) or "no outputs"
        say(f"FAIL: ARM64 outputs differ from x86-64: {names}")
        return EXIT_CHECK_FAILED
    worst = max(row.max_abs_diff for row in comparisons)
    say(f"PASS: ARM64 matches x86-64 (max abs diff {worst:.2e})")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line (argparse exits with code 2 on bad arguments)."""
    parser = argparse.ArgumentParser(
        prog="arm64_check.py",
        description="Run an ONNX bundle under emulated ARM64 (QEMU) and compare with x86-64.",
    )
    parser.add_argument("--bundle", type=Path, help="check this bundle instead of building one")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="download cache")
    parser.add_argument("--batch", type=int, default=BATCH, help="frames per run")
    parser.add_argument("--tolerance", type=float, default=FP32_TOLERANCE, help="fp32 bound")
    parser.add_argument("--int8-tolerance", type=float, default=INT8_TOLERANCE, help="int8 bound")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 model")
    parser.add_argument(
        "--tiny-model",
        action="store_true",
        help="check a tiny ONNX model built here instead of an exported fusion model",
    )
    parser.add_argument(
        "--wheels-only", action="store_true", help="only check that aarch64 wheels exist"
    )
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: expected failures print one line and return their exit code."""
    args = parse_args(argv)
    try:
        return check(args)
    except CheckError as err:
        print(f"[arm64-check] error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        print(f"[arm64-check] error: {err}", file=sys.stderr)
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        print("[arm64-check] interrupted; downloads so far are kept in .arm64/", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
