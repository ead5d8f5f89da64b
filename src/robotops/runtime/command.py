"""``python -m robotops.runtime``: predict from a ``.npz`` file with NumPy and ONNX Runtime only.

For robots and emulators where neither torch nor the ``robotops`` command (Typer, Rich, PyArrow)
is installed::

    python -m robotops.runtime BUNDLE --inputs in.npz --out out.npz [--int8]

``in.npz`` holds either

* preprocessed arrays, batch first, as :func:`robotops.transforms.stack_samples` gives them:
  ``rgb`` (N,3,H,W), ``depth`` (N,2,H,W), ``lidar`` (N,P,3), ``present`` (N,3), float32
  (``lidar_mask`` may be there and is ignored); or
* raw frames, one key per frame and modality: ``frame_<i>_rgb`` (uint8 H,W,3),
  ``frame_<i>_depth_mm`` (uint16 H,W) and ``frame_<i>_xyz`` (float32 M,3), for frames
  ``i = 0 .. N-1``; a modality without its key is missing from that frame.

``out.npz`` gets ``probabilities`` (N,K) float32, ``index`` (N,) int64, ``confidence`` (N,)
float32, ``labels`` (N,) and ``classes`` (K,) as unicode strings. No pickle either way.
Expected errors print one line on stderr and exit with the error's code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from robotops.errors import DataError, OutputError, RobotopsError, UsageError, one_line
from robotops.runtime.bundle import Bundle, Frame, load_bundle

PREPROCESSED = ("rgb", "depth", "lidar", "present")
_RAW_KEY = re.compile(r"^frame_(\d+)_(rgb|depth_mm|xyz)$")


def read_inputs(path: Path) -> tuple[dict[str, np.ndarray] | None, list[Frame] | None]:
    """The preprocessed arrays or the raw frames in ``path`` (exactly one is not ``None``).

    Raises:
        DataError: The file is unreadable, mixes both forms, or holds neither.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such inputs file") from err
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable .npz file without pickles ({err})") from err
    raw = {key: _RAW_KEY.match(key) for key in arrays}
    if any(raw.values()):
        if any(key in arrays for key in PREPROCESSED):
            raise DataError(f"{path}: mixes raw frame_<i>_* keys with preprocessed arrays")
        unknown = sorted(key for key, match in raw.items() if match is None)
        if unknown:
            raise DataError(f"{path}: unknown key {unknown[0]!r} among raw frame keys")
        count = 1 + max(int(m.group(1)) for m in raw.values() if m is not None)
        fields: list[dict[str, np.ndarray]] = [{} for _ in range(count)]
        for key, match in raw.items():
            assert match is not None
            fields[int(match.group(1))][match.group(2)] = arrays[key]
        return None, [Frame(**f) for f in fields]
    if not any(key in arrays for key in PREPROCESSED):
        raise DataError(
            f"{path}: neither preprocessed arrays ({', '.join(PREPROCESSED)}) nor raw "
            "frame_<i>_rgb / frame_<i>_depth_mm / frame_<i>_xyz keys"
        )
    return arrays, None


def write_outputs(path: Path, probabilities: np.ndarray, bundle: Bundle) -> None:
    """Write ``probabilities`` and what they mean to ``path`` (atomically).

    Raises:
        OutputError: The file cannot be written.
    """
    classes = np.asarray(bundle.classes)
    index = probabilities.argmax(axis=1).astype(np.int64)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            partial,
            probabilities=probabilities.astype(np.float32),
            index=index,
            confidence=probabilities[np.arange(len(index)), index].astype(np.float32),
            labels=classes[index] if len(index) else np.asarray([], dtype=classes.dtype),
            classes=classes,
        )
        partial.replace(path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write the outputs: {err}") from err


def run(bundle_path: Path, inputs: Path, out: Path, *, int8: bool = False) -> np.ndarray:
    """Predict the inputs in ``inputs`` with the bundle and write ``out``; returns probabilities."""
    if out.suffix != ".npz":
        raise UsageError(f"--out {out}: must end in .npz")
    arrays, frames = read_inputs(inputs)
    bundle = load_bundle(bundle_path, int8=int8)
    if frames is not None:
        arrays = bundle.preprocess(frames)
    assert arrays is not None
    probabilities = bundle.predict_arrays(arrays)
    write_outputs(out, probabilities, bundle)
    return probabilities


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m robotops.runtime``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m robotops.runtime",
        description="Predict with a robotops bundle using only NumPy and ONNX Runtime.",
        epilog="Input and output layout: see the robotops.runtime.command module docstring.",
    )
    parser.add_argument("bundle", type=Path, help="bundle folder (manifest.json, model.onnx)")
    parser.add_argument(
        "--inputs",
        type=Path,
        required=True,
        help="in.npz: preprocessed rgb/depth/lidar/present arrays, or frame_<i>_rgb, "
        "frame_<i>_depth_mm, frame_<i>_xyz raw frames",
    )
    parser.add_argument("--out", type=Path, required=True, help="out.npz for the probabilities")
    parser.add_argument("--int8", action="store_true", help="use the bundle's int8 model")
    args = parser.parse_args(argv)
    try:
        probabilities = run(args.bundle, args.inputs, args.out, int8=args.int8)
    except RobotopsError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return err.exit_code
    print(f"{args.out}: {len(probabilities)} frame(s), {probabilities.shape[1]} classes")
    return 0
