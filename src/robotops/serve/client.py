"""A small Open Inference Protocol client for raw frames: the standard library and NumPy only.

What ``robotops replay``, the demo and the benchmark send to a server: one keep-alive HTTP
connection, frames as binary tensors (the binary data extension), answers read back as
:class:`~robotops.runtime.Prediction`. Any V2 client works with ``robotops serve`` (the tests use
``tritonclient[http]``); this one exists so the loop needs no extra package.
"""

from __future__ import annotations

import http.client
import json
import struct
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from robotops.errors import DataError, OutputError, RobotopsError
from robotops.runtime import Frame, Prediction
from robotops.serve.protocol import HEADER_LENGTH


class ServerError(RobotopsError):
    """The server answered with an error; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def frame_tensors(frames: Sequence[Frame]) -> list[tuple[str, str, np.ndarray]]:
    """The inputs for a batch of frames: (name, datatype, array) per modality present.

    A modality must be present in every frame of the batch or in none; clouds of different sizes
    are padded with NaN rows, which the server drops.

    Raises:
        DataError: A modality is in some frames only, or images differ in size.
    """
    tensors = []
    for position, (name, datatype, dtype) in enumerate(
        (("rgb", "UINT8", np.uint8), ("depth_mm", "UINT16", np.uint16), ("xyz", "FP32", np.float32))
    ):
        arrays = [frame[position] for frame in frames]
        present = [a is not None for a in arrays]
        if not any(present):
            continue
        if not all(present):
            raise DataError(f"{name}: in some frames of the batch only; send those apart")
        if name == "xyz":
            most = max(len(a) for a in arrays)
            batch = np.full((len(arrays), most, 3), np.nan, np.float32)
            for i, points in enumerate(arrays):
                batch[i, : len(points)] = points
        else:
            if len({a.shape for a in arrays}) > 1:
                raise DataError(f"{name}: images of different sizes in one batch")
            batch = np.stack([np.asarray(a, dtype) for a in arrays])
        tensors.append((name, datatype, np.ascontiguousarray(batch, dtype)))
    if not tensors:
        raise DataError("no modality in the frames: nothing to send")
    return tensors


class InferenceClient:
    """A keep-alive connection to one server's model.

    Args:
        url: The server's base URL, ``http://host:port``.
        model: The model name in the URL.
        timeout: Seconds to wait for an answer.
    """

    def __init__(self, url: str, model: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise DataError(f"{url}: not an http://host:port URL")
        self.model = model
        self._host, self._port = parts.hostname, parts.port or 80
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> InferenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request; the status, headers (lower-case names) and body of the answer.

        Raises:
            OutputError: The server cannot be reached.
        """
        for attempt in (0, 1):  # a kept-alive connection the server closed is reopened once
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
            try:
                self._connection.request(method, path, body=body, headers=headers or {})
                response = self._connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as err:
                self.close()
                if attempt:
                    raise OutputError(
                        f"http://{self._host}:{self._port}{path}: {err.__class__.__name__}: {err}"
                    ) from err
                continue
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, answer_headers, data
        raise AssertionError("unreachable")

    def ready(self) -> bool:
        """Whether the model is served and ready."""
        try:
            status, _, _ = self.request("GET", f"/v2/models/{self.model}/ready")
        except OutputError:
            return False
        return status == 200

    def infer(
        self, frames: Sequence[Frame], parameters: dict[str, Any] | None = None
    ) -> list[Prediction]:
        """Predict ``frames`` (one request, binary tensors both ways).

        Raises:
            DataError: The frames cannot be sent as one batch.
            ServerError: The server refused the request.
            OutputError: The server cannot be reached.
        """
        tensors = frame_tensors(frames)
        header: dict[str, Any] = {
            "inputs": [
                {
                    "name": name,
                    "datatype": datatype,
                    "shape": list(array.shape),
                    "parameters": {"binary_data_size": array.nbytes},
                }
                for name, datatype, array in tensors
            ],
            "parameters": {"binary_data_output": True, **(parameters or {})},
        }
        head = json.dumps(header).encode()
        body = head + b"".join(array.tobytes() for _, _, array in tensors)
        status, headers, data = self.request(
            "POST",
            f"/v2/models/{self.model}/infer",
            body,
            {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(head))},
        )
        if status != 200:
            raise ServerError(_error_message(data, status), status)
        return _predictions(data, headers.get(HEADER_LENGTH.lower()))


def _error_message(data: bytes, status: int) -> str:
    try:
        return f"{status}: {json.loads(data)['error']}"
    except (ValueError, KeyError, TypeError):
        return f"{status}: {data[:200]!r}"


def _predictions(data: bytes, header_length: str | None) -> list[Prediction]:
    length = int(header_length) if header_length else len(data)
    response = json.loads(data[:length])
    arrays: dict[str, Any] = {}
    offset = length
    for output in response["outputs"]:
        size = (output.get("parameters") or {}).get("binary_data_size")
        if size is None:
            arrays[output["name"]] = output["data"]
            continue
        raw = data[offset : offset + size]
        offset += size
        if output["datatype"] == "BYTES":
            items, position = [], 0
            while position < len(raw):
                (n,) = struct.unpack_from("<I", raw, position)
                items.append(raw[position + 4 : position + 4 + n].decode())
                position += 4 + n
            arrays[output["name"]] = items
        else:
            dtype = {"FP32": "<f4", "INT64": "<i8"}[output["datatype"]]
            arrays[output["name"]] = np.frombuffer(raw, dtype).reshape(output["shape"])
    return [
        Prediction(str(label), int(index), float(confidence), tuple(map(float, row)))
        for label, index, confidence, row in zip(
            arrays["label"],
            arrays["index"],
            arrays["confidence"],
            arrays["probabilities"],
            strict=True,
        )
    ]
