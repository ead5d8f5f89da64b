"""Replay a dataset version's frames through a running server, as a robot would send them.

One request per frame, in recording and time order, over one keep-alive connection; each request
names the frame's site (and the robot, when given) so the prediction log records them. The
result holds the server's predictions next to the frames' labels and the latency the client saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robotops.dataset.frames import SENSOR_COLUMNS, decode_row
from robotops.dataset.store import Snapshot
from robotops.errors import NotFoundError
from robotops.runtime import Frame, Prediction
from robotops.serve.client import InferenceClient


@dataclass(frozen=True)
class ReplayResult:
    """What a replay sent and got back.

    Attributes:
        frame_ids: The frames sent, in order.
        labels: Their labels (None where unlabelled).
        predictions: The server's answers, in order.
        latency_ms: Each request's round trip as the client saw it.
    """

    frame_ids: tuple[str, ...]
    labels: tuple[str | None, ...]
    predictions: tuple[Prediction, ...]
    latency_ms: tuple[float, ...]

    @property
    def accuracy(self) -> float | None:
        """Share of labelled frames predicted right (None without labelled frames)."""
        pairs = [(p.label, y) for p, y in zip(self.predictions, self.labels, strict=True) if y]
        return sum(p == y for p, y in pairs) / len(pairs) if pairs else None

    def latency(self, q: float) -> float:
        """A quantile of the round-trip latency, in ms."""
        return float(np.quantile(self.latency_ms, q)) if self.latency_ms else 0.0

    def summary(self) -> str:
        """One line: frames, accuracy and latency."""
        accuracy = "" if self.accuracy is None else f", accuracy {self.accuracy:.1%}"
        return (
            f"replayed {len(self.frame_ids)} frames{accuracy}; round trip p50 "
            f"{self.latency(0.5):.1f} ms, p99 {self.latency(0.99):.1f} ms"
        )


@dataclass(frozen=True)
class ReplayFrame:
    """A frame to replay: its id, label, site and sensor arrays."""

    frame_id: str
    label: str | None
    site: str | None
    frame: Frame


def select_frames(
    snapshot: Snapshot,
    *,
    site: str | None = None,
    recording: str | None = None,
    split: str | None = None,
) -> list[ReplayFrame]:
    """The frames of ``snapshot`` to replay, decoded, in recording and time order.

    Args:
        snapshot: The dataset version.
        site: Only this site's frames.
        recording: Only this recording's frames.
        split: Only this split's frames.

    Raises:
        NotFoundError: No frame matches the selection.
        DataError: A frame's bytes do not decode.
    """
    rows = [
        r
        for r in snapshot.index().to_pylist()
        if (site is None or r["site"] == site)
        and (recording is None or r["recording_id"] == recording)
        and (split is None or r["split"] == split)
    ]
    if not rows:
        raise NotFoundError(f"{snapshot}: no frame matches the selection to replay")
    decoded: dict[str, Frame] = {}
    for batch in snapshot.scan_frames(SENSOR_COLUMNS, frame_ids=[r["frame_id"] for r in rows]):
        for row in batch.to_pylist():
            decoded[row["frame_id"]] = Frame(*decode_row(row))
    return [ReplayFrame(r["frame_id"], r["label"], r["site"], decoded[r["frame_id"]]) for r in rows]


def replay(
    frames: list[ReplayFrame],
    url: str,
    model: str,
    *,
    robot: str | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Send ``frames`` to the server at ``url``, one per request.

    Args:
        frames: The frames (:func:`select_frames`).
        url: The server's base URL.
        model: The model name on the server.
        robot: Sent as the ``robot`` request parameter.
        on_frame: Called with 1 after each frame (for a progress bar).

    Raises:
        ServerError: The server refused a request.
        OutputError: The server cannot be reached.
    """
    predictions, latency = [], []
    with InferenceClient(url, model) as client:
        for item in frames:
            parameters = {"site": item.site} if item.site else {}
            if robot:
                parameters["robot"] = robot
            start = time.perf_counter()
            [prediction] = client.infer([item.frame], parameters)
            latency.append((time.perf_counter() - start) * 1000.0)
            predictions.append(prediction)
            if on_frame is not None:
                on_frame(1)
    return ReplayResult(
        tuple(f.frame_id for f in frames),
        tuple(f.label for f in frames),
        tuple(predictions),
        tuple(latency),
    )
