"""The served model: a bundle behind the protocol's named tensors.

Clients send raw sensor frames, batch first, and the server preprocesses them with the bundle's
own :class:`~robotops.transforms.PreprocessSpec` (:meth:`robotops.runtime.Bundle.predict_frames`),
so a robot's client needs no preprocessing code and cannot drift from training.

========== ======== ============= ==========================================================
input      datatype shape         content
========== ======== ============= ==========================================================
``rgb``    UINT8    [N, H, W, 3]  colour images, RGB
``depth_mm`` UINT16 [N, H, W]     depth in millimetres, 0 where invalid
``xyz``    FP32     [N, M, 3]     LiDAR points in the robot base frame; pad clouds of fewer
                                  points with NaN rows (dropped)
========== ======== ============= ==========================================================

Any input may be left out (that modality is missing for every frame, as when a sensor fails);
at least one must be there. Outputs: ``label`` (BYTES [N]), ``index`` (INT64 [N]),
``confidence`` (FP32 [N]) and ``probabilities`` (FP32 [N, K], columns in the order of the
``classes`` parameter of the model metadata).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robotops.runtime import Bundle, Frame, Prediction
from robotops.runtime.manifest import MANIFEST
from robotops.serve.protocol import ProtocolError
from robotops.transforms.errors import TransformError

INPUTS: dict[str, tuple[str, tuple[int, ...]]] = {
    "rgb": ("UINT8", (-1, -1, -1, 3)),
    "depth_mm": ("UINT16", (-1, -1, -1)),
    "xyz": ("FP32", (-1, -1, 3)),
}
"""Input name -> (datatype, shape with -1 for any size)."""

_DTYPES = {"rgb": np.uint8, "depth_mm": np.uint16, "xyz": np.float32}
_ACCEPTED = {"rgb": ("u1",), "depth_mm": ("u2",), "xyz": ("f4", "f8")}


def bundle_digest(path: Path) -> str:
    """A bundle's identity: the SHA-256 of its manifest, which lists every file's SHA-256."""
    return hashlib.sha256((Path(path) / MANIFEST).read_bytes()).hexdigest()


@dataclass(frozen=True)
class ServedModel:
    """A loaded bundle as the server presents it.

    Attributes:
        name: The name in the URL (``/v2/models/{name}``).
        bundle: The loaded bundle.
        digest: The bundle's digest (:func:`bundle_digest`).
    """

    name: str
    bundle: Bundle
    digest: str

    @property
    def version(self) -> str:
        """The registry version of the bundle, or ``"1"`` for a bundle from a checkpoint."""
        return str(self.bundle.version or "1")

    def info(self) -> dict[str, Any]:
        """What the prediction log records about this bundle."""
        return {
            "path": str(self.bundle.path.resolve()),
            "model": self.name,
            "version": self.version,
            "dataset": (self.bundle.manifest.get("dataset") or {}).get("ref"),
            "int8": self.bundle.int8,
        }

    def metadata(self) -> dict[str, Any]:
        """The protocol's model metadata answer."""
        k = len(self.bundle.classes)
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": "onnxruntime_onnx",
            "inputs": [
                {"name": n, "datatype": d, "shape": list(s)} for n, (d, s) in INPUTS.items()
            ],
            "outputs": [
                {"name": "label", "datatype": "BYTES", "shape": [-1]},
                {"name": "index", "datatype": "INT64", "shape": [-1]},
                {"name": "confidence", "datatype": "FP32", "shape": [-1]},
                {"name": "probabilities", "datatype": "FP32", "shape": [-1, k]},
            ],
            "parameters": {"classes": list(self.bundle.classes), "bundle": self.digest},
        }

    def frames(self, inputs: dict[str, np.ndarray], max_batch: int) -> list[Frame]:
        """The raw frames in a request's inputs, checked against :data:`INPUTS`.

        Raises:
            ProtocolError: An unknown input, a wrong datatype or shape, batch sizes that
                disagree, or more than ``max_batch`` frames.
        """
        unknown = sorted(set(inputs) - set(INPUTS))
        if unknown:
            raise ProtocolError(
                f"unknown input {unknown[0]!r}; the model takes {', '.join(INPUTS)}",
                reason="unknown_input",
            )
        arrays = {}
        for name, array in inputs.items():
            datatype, shape = INPUTS[name]
            if array.dtype.str[1:] not in _ACCEPTED[name]:
                raise ProtocolError(
                    f"input {name!r} must be {datatype}, got {array.dtype}", reason="dtype"
                )
            if array.ndim != len(shape) or any(
                e != -1 and e != a for e, a in zip(shape, array.shape, strict=True)
            ):
                raise ProtocolError(
                    f"input {name!r} has shape {list(array.shape)}, expected "
                    f"{['N' if e == -1 else e for e in shape]}",
                    reason="shape",
                )
            if name != "xyz" and 0 in array.shape[1:3]:
                raise ProtocolError(
                    f"input {name!r} has an empty image: {list(array.shape)}", reason="shape"
                )
            arrays[name] = array.astype(_DTYPES[name], copy=False)
        sizes = {a.shape[0] for a in arrays.values()}
        if len(sizes) > 1:
            raise ProtocolError(
                f"inputs disagree on the batch size: {sorted(sizes)}", reason="shape"
            )
        n = sizes.pop()
        if n == 0:
            raise ProtocolError("the batch is empty (N = 0)", reason="shape")
        if n > max_batch:
            raise ProtocolError(
                f"{n} frames in one request; at most {max_batch} (serve.max_batch)",
                413,
                reason="too_large",
            )
        rgb, depth, xyz = (arrays.get(k) for k in INPUTS)
        return [
            Frame(
                None if rgb is None else rgb[i],
                None if depth is None else depth[i],
                None if xyz is None else _finite_rows(xyz[i]),
            )
            for i in range(n)
        ]

    def predict(self, frames: list[Frame]) -> list[Prediction]:
        """Preprocess and predict ``frames``.

        Raises:
            ProtocolError: A frame the preprocessing rejects.
        """
        try:
            return self.bundle.predict_frames(frames)
        except TransformError as err:
            raise ProtocolError(f"input rejected: {err}", reason="shape") from err


def _finite_rows(points: np.ndarray) -> np.ndarray:
    finite = np.isfinite(points).all(axis=1)
    return points if finite.all() else points[finite]


def output_arrays(predictions: list[Prediction]) -> dict[str, np.ndarray]:
    """The four output tensors of ``predictions``."""
    return {
        "label": np.array([p.label.encode() for p in predictions], dtype=object),
        "index": np.array([p.index for p in predictions], np.int64),
        "confidence": np.array([p.confidence for p in predictions], np.float32),
        "probabilities": np.array([p.probabilities for p in predictions], np.float32),
    }
