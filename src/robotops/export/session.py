"""ONNX Runtime sessions for the export's own checks: logits in batches, and their speed."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort

from robotops.errors import DataError


def open_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU session on ``path``, logging errors only.

    Raises:
        DataError: ONNX Runtime refuses the model.
    """
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT's exception types are not exported
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise DataError(f"{path}: ONNX Runtime cannot load it: {first}") from err


def feed(
    session: ort.InferenceSession, arrays: Mapping[str, np.ndarray], rows: slice = slice(None)
) -> dict[str, np.ndarray]:
    """The rows of the inputs the graph reads, as float32."""
    return {
        i.name: np.ascontiguousarray(arrays[i.name][rows], np.float32) for i in session.get_inputs()
    }


def session_logits(
    session: ort.InferenceSession, arrays: Mapping[str, np.ndarray], batch_size: int = 256
) -> np.ndarray:
    """Logits (N, K) of the session for stacked arrays, in batches."""
    n = next(iter(arrays.values())).shape[0]
    out = [
        session.run(None, feed(session, arrays, slice(s, s + batch_size)))[0]
        for s in range(0, n, batch_size)
    ]
    return np.concatenate(out)


def seconds_per_run(
    session: ort.InferenceSession,
    arrays: Mapping[str, np.ndarray],
    rows: int,
    repeats: int = 5,
) -> float:
    """Median seconds of one run on the first ``rows`` rows, after one warm-up run."""
    inputs = feed(session, arrays, slice(0, rows))
    session.run(None, inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
