"""A loaded bundle: a verified ONNX model, its class list and the preprocessing it was trained with.

:func:`load_bundle` verifies every checksum first, then opens an ONNX Runtime session on the
CPU. :meth:`Bundle.predict_frames` takes raw sensor arrays and preprocesses them with
:func:`robotops.transforms.preprocess_frame` under the bundle's own
:class:`~robotops.transforms.PreprocessSpec`, the very code and numbers training used, so the
robot cannot drift from what the model learned. This module imports only NumPy, ONNX Runtime,
the standard library and robotops' numpy-only transforms (a test guards that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import onnxruntime as ort

from robotops.errors import DataError, NotFoundError, UsageError
from robotops.runtime.manifest import MODEL, MODEL_INT8, read_manifest, verify_files
from robotops.transforms import PreprocessSpec, preprocess_frame, stack_samples

BATCH = 256
"""Frames per ONNX Runtime call; bounds memory for long inputs."""


class Frame(NamedTuple):
    """One frame's raw sensor data; any modality may be ``None`` (missing).

    Attributes:
        rgb: Colour image, uint8 (H, W, 3) RGB.
        depth_mm: Depth image, uint16 (H, W) millimetres, 0 where invalid.
        xyz: LiDAR points, float32 (N, 3) x, y, z in metres in the robot base frame.
    """

    rgb: np.ndarray | None = None
    depth_mm: np.ndarray | None = None
    xyz: np.ndarray | None = None


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one frame.

    Attributes:
        label: The most probable class.
        index: Its position in the bundle's class list.
        confidence: Its probability.
        probabilities: Every class's probability, in class-list order.
    """

    label: str
    index: int
    confidence: float
    probabilities: tuple[float, ...]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, computed stably in float32."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted.astype(np.float32))
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Bundle:
    """A verified bundle, ready to predict.

    Attributes:
        path: The bundle folder.
        manifest: The parsed ``manifest.json``.
        session: The ONNX Runtime session of ``model.onnx`` (or ``model.int8.onnx``).
        spec: The preprocessing the model was trained with.
        int8: Whether the int8 model is loaded.
    """

    path: Path
    manifest: dict[str, Any]
    session: ort.InferenceSession
    spec: PreprocessSpec
    int8: bool = False

    @property
    def name(self) -> str | None:
        """Registered model name, when the bundle came from the registry."""
        return self.manifest["model"].get("name")

    @property
    def version(self) -> str | None:
        """Registered model version, when the bundle came from the registry."""
        return self.manifest["model"].get("version")

    @property
    def classes(self) -> tuple[str, ...]:
        """The class list: columns of the probabilities."""
        return tuple(self.manifest["classes"])

    @property
    def input_names(self) -> tuple[str, ...]:
        """The inputs the ONNX graph reads (the model's others are ignored)."""
        return tuple(i.name for i in self.session.get_inputs())

    def _checked(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph's inputs from ``arrays``, as float32, checked against the manifest."""
        shapes = {i["name"]: i["shape"] for i in self.manifest["inputs"]}
        feed: dict[str, np.ndarray] = {}
        for name in self.input_names:
            if name not in arrays:
                raise DataError(f"inputs: no {name!r} array (the model reads {self.input_names})")
            array = np.asarray(arrays[name])
            if array.dtype.kind not in "fiub":
                raise DataError(f"inputs: {name!r} must be numeric, got {array.dtype}")
            expected = shapes.get(name)
            if expected is not None and (
                array.ndim != len(expected)
                or any(
                    isinstance(e, int) and e != a
                    for e, a in zip(expected, array.shape, strict=True)
                )
            ):
                raise DataError(
                    f"inputs: {name!r} has shape {array.shape}, the bundle expects {expected}"
                )
            feed[name] = np.ascontiguousarray(array, dtype=np.float32)
        sizes = {a.shape[0] for a in feed.values()}
        if len(sizes) > 1:
            raise DataError(f"inputs: arrays disagree on the batch size: {sorted(sizes)}")
        return feed

    def predict_logits(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Logits (N, K) float32 for a preprocessed batch (see :meth:`predict_arrays`)."""
        feed = self._checked(arrays)
        n = next(iter(feed.values())).shape[0]
        if n == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        out = [
            self.session.run(None, {k: v[start : start + BATCH] for k, v in feed.items()})[0]
            for start in range(0, n, BATCH)
        ]
        return np.concatenate(out).astype(np.float32, copy=False)

    def predict_arrays(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Class probabilities (N, K) for already preprocessed float32 batches.

        Args:
            arrays: ``rgb``, ``depth``, ``lidar`` and ``present`` with a leading batch axis, as
                :func:`robotops.transforms.stack_samples` gives them; other keys are ignored.

        Raises:
            DataError: An array the model reads is missing or has the wrong shape.
        """
        return softmax(self.predict_logits(arrays))

    def preprocess(self, frames: Iterable[Frame | tuple]) -> dict[str, np.ndarray]:
        """Raw frames -> the stacked model inputs, exactly as training prepared them."""
        samples = [preprocess_frame(*Frame(*frame), self.spec) for frame in frames]
        if not samples:
            raise DataError("inputs: no frames to predict")
        return stack_samples(samples)

    def predict_frames(self, frames: Iterable[Frame | tuple]) -> list[Prediction]:
        """Predict raw frames: ``(rgb, depth_mm, xyz)`` each an array or ``None``.

        Raises:
            DataError: No frames, or an array of the wrong type or shape for its modality.
        """
        probabilities = self.predict_arrays(self.preprocess(frames))
        return predictions(probabilities, self.classes)


def predictions(probabilities: np.ndarray, classes: tuple[str, ...]) -> list[Prediction]:
    """One :class:`Prediction` per row of (N, K) ``probabilities``."""
    out = []
    for row in probabilities:
        index = int(row.argmax())
        out.append(Prediction(classes[index], index, float(row[index]), tuple(map(float, row))))
    return out


def load_bundle(path: Path | str, *, int8: bool = False, threads: int | None = None) -> Bundle:
    """Verify a bundle's checksums and open its model on the CPU.

    Args:
        path: The bundle folder.
        int8: Load ``model.int8.onnx`` instead of ``model.onnx``.
        threads: ONNX Runtime intra-op threads (default: ONNX Runtime's choice).

    Raises:
        NotFoundError: No bundle there, or ``int8`` and the bundle has no int8 model.
        DataError: The manifest is malformed, or a file is missing, changed or not listed.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    name = MODEL
    if int8:
        if MODEL_INT8 not in manifest["files"]:
            why = (manifest.get("int8") or {}).get("reason") or "not made at export"
            raise NotFoundError(f"{folder}: bundle has no {MODEL_INT8} ({why})")
        name = MODEL_INT8
    try:
        spec = PreprocessSpec.from_dict(manifest["preprocess"])
    except (UsageError, ValueError, TypeError) as err:  # SpecError is a UsageError
        raise DataError(f"{folder / 'manifest.json'}: preprocess: {err}") from err
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings on a robot's console
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(
            str(folder / name), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # ORT raises its own non-exported exception types
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{folder / name}: ONNX Runtime cannot load it: {first}") from err
    return Bundle(folder, manifest, session, spec, int8)
