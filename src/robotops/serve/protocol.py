"""The Open Inference Protocol (KServe V2) on the wire: tensors in and out of HTTP bodies.

Pure functions, no web framework: :func:`parse_request` turns an inference request body into
named NumPy arrays, :func:`encode_response` turns named arrays into a response body. Both speak
the JSON tensor form and the binary tensor data extension:

* a request whose header ``Inference-Header-Content-Length`` is set carries that many bytes of
  JSON, then the raw bytes of each input whose ``parameters.binary_data_size`` is set, in input
  order (``BYTES`` elements each prefixed by a 4-byte little-endian length);
* a response carries binary outputs the same way when the request asks for them
  (``parameters.binary_data_output`` for all, or an output's ``parameters.binary_data``).

Every problem raises :class:`ProtocolError` with the HTTP status and a message that names the
tensor and what is wrong, which the server returns as ``{"error": "..."}``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from robotops.errors import RobotopsError

DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
"""V2 datatypes with a fixed-size NumPy equivalent (``BYTES`` is handled apart)."""

HEADER_LENGTH = "Inference-Header-Content-Length"
BYTES = "BYTES"


class ProtocolError(RobotopsError):
    """A request the protocol cannot accept; ``http_status`` is the answer's status."""

    def __init__(self, message: str, status: int = 400, reason: str = "bad_request") -> None:
        super().__init__(message)
        self.http_status = status
        self.reason = reason


@dataclass(frozen=True)
class RequestedOutput:
    """An output the client asked for, and whether it wants it binary."""

    name: str
    binary: bool


@dataclass
class InferRequest:
    """A parsed inference request.

    Attributes:
        id: The client's request id ("" when it sent none).
        inputs: Input arrays by name, in the shape and dtype the request declared.
        outputs: The outputs asked for (``None``: all of them).
        binary_output: Default for outputs not named: binary (``binary_data_output``).
        parameters: The request's parameters, as sent.
    """

    id: str
    inputs: dict[str, np.ndarray]
    outputs: list[RequestedOutput] | None = None
    binary_output: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """``body`` decoded per its ``Content-Encoding`` (gzip, deflate or none), at most ``limit``.

    Raises:
        ProtocolError: Unknown encoding (415), corrupt data (400), or more than ``limit`` bytes
            once decoded (413).
    """
    if not encoding or encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise ProtocolError(
            f"Content-Encoding {encoding!r} is not supported (gzip, deflate)", 415, "encoding"
        )
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as err:
        raise ProtocolError(
            f"request body is not valid {encoding}: {err}", 400, "encoding"
        ) from err
    if len(out) > limit:
        raise ProtocolError(
            f"request body exceeds the {limit} byte limit once decompressed", 413, "too_large"
        )
    return out


def parse_request(body: bytes, header_length: int | str | None = None) -> InferRequest:
    """Parse an inference request body (JSON, or JSON then binary tensor data).

    Args:
        body: The whole (decompressed) body.
        header_length: The ``Inference-Header-Content-Length`` header, if the request had one.

    Raises:
        ProtocolError: Malformed JSON, a malformed tensor, or binary data that does not add up.
    """
    length = _header_length(header_length, len(body))
    try:
        request = orjson.loads(body[:length])
    except orjson.JSONDecodeError as err:
        raise ProtocolError(f"request is not valid JSON: {err}", reason="json") from err
    if not isinstance(request, dict):
        raise ProtocolError("request must be a JSON object with 'inputs'", reason="json")
    raw_inputs = request.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ProtocolError("request has no 'inputs' list", reason="json")
    offset = length
    inputs: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(raw_inputs):
        if not isinstance(tensor, dict):
            raise ProtocolError(f"inputs[{i}] is not an object", reason="json")
        name = tensor.get("name")
        if not isinstance(name, str) or not name:
            raise ProtocolError(f"inputs[{i}] has no name", reason="json")
        if name in inputs:
            raise ProtocolError(f"input {name!r} is given twice", reason="json")
        array, offset = _input_array(name, tensor, body, offset)
        inputs[name] = array
    if offset != len(body):
        raise ProtocolError(
            f"{len(body) - offset} bytes of binary data follow the inputs unclaimed "
            "(binary_data_size does not add up)",
            reason="binary",
        )
    parameters = request.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ProtocolError("request 'parameters' must be an object", reason="json")
    request_id = request.get("id", "")
    return InferRequest(
        id=str(request_id) if request_id is not None else "",
        inputs=inputs,
        outputs=_requested_outputs(request.get("outputs")),
        binary_output=bool(parameters.get("binary_data_output", False)),
        parameters=parameters,
    )


def _header_length(value: int | str | None, size: int) -> int:
    if value is None or value == "":
        return size
    try:
        length = int(value)
    except (TypeError, ValueError) as err:
        raise ProtocolError(
            f"{HEADER_LENGTH} {value!r} is not an integer", reason="binary"
        ) from err
    if not 0 < length <= size:
        raise ProtocolError(
            f"{HEADER_LENGTH} {length} does not fit a body of {size} bytes", reason="binary"
        )
    return length


def _shape(name: str, tensor: Mapping[str, Any]) -> tuple[int, ...]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise ProtocolError(
            f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}",
            reason="shape",
        )
    return tuple(shape)


def _input_array(
    name: str, tensor: Mapping[str, Any], body: bytes, offset: int
) -> tuple[np.ndarray, int]:
    """The array of one input tensor and the binary offset after it."""
    shape = _shape(name, tensor)
    datatype = tensor.get("datatype")
    if datatype != BYTES and datatype not in DTYPES:
        raise ProtocolError(f"input {name!r}: unknown datatype {datatype!r}", reason="dtype")
    count = int(np.prod(shape, dtype=np.int64))
    parameters = tensor.get("parameters") or {}
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(body):
            raise ProtocolError(
                f"input {name!r}: binary_data_size {size!r} overruns the body", reason="binary"
            )
        chunk = body[offset : offset + size]
        offset += size
        if datatype == BYTES:
            return _unpack_bytes(name, chunk, count, shape), offset
        dtype = DTYPES[datatype]
        if size != count * dtype.itemsize:
            raise ProtocolError(
                f"input {name!r}: {size} bytes of binary data for shape {list(shape)} of "
                f"{datatype} (expected {count * dtype.itemsize})",
                reason="binary",
            )
        return np.frombuffer(chunk, dtype).reshape(shape), offset
    if "data" not in tensor:
        raise ProtocolError(f"input {name!r} has neither data nor binary_data_size", reason="json")
    if datatype == BYTES:
        items = _flatten(tensor["data"])
        if len(items) != count or not all(isinstance(x, str) for x in items):
            raise ProtocolError(
                f"input {name!r}: BYTES data must be {count} strings for shape {list(shape)}",
                reason="shape",
            )
        return np.array([x.encode() for x in items], dtype=object).reshape(shape), offset
    try:
        array = np.asarray(tensor["data"], dtype=DTYPES[datatype])
    except (TypeError, ValueError, OverflowError) as err:
        raise ProtocolError(
            f"input {name!r}: data are not {datatype} values: {err}", reason="dtype"
        ) from err
    if array.size != count:
        raise ProtocolError(
            f"input {name!r}: {array.size} values for shape {list(shape)} ({count} expected)",
            reason="shape",
        )
    return array.reshape(shape), offset


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    out: list[Any] = []
    for item in data:
        out.extend(_flatten(item))
    return out


def _unpack_bytes(name: str, chunk: bytes, count: int, shape: tuple[int, ...]) -> np.ndarray:
    items: list[bytes] = []
    position = 0
    while position < len(chunk):
        if position + 4 > len(chunk):
            raise ProtocolError(f"input {name!r}: truncated BYTES element", reason="binary")
        (size,) = struct.unpack_from("<I", chunk, position)
        position += 4
        if position + size > len(chunk):
            raise ProtocolError(f"input {name!r}: truncated BYTES element", reason="binary")
        items.append(chunk[position : position + size])
        position += size
    if len(items) != count:
        raise ProtocolError(
            f"input {name!r}: {len(items)} BYTES elements for shape {list(shape)}",
            reason="shape",
        )
    return np.array(items, dtype=object).reshape(shape)


def _requested_outputs(outputs: Any) -> list[RequestedOutput] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise ProtocolError("request 'outputs' must be a list", reason="json")
    requested = []
    for i, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise ProtocolError(f"outputs[{i}] must be an object with a name", reason="json")
        parameters = output.get("parameters") or {}
        binary = (
            bool(parameters.get("binary_data", False)) if isinstance(parameters, dict) else False
        )
        requested.append(RequestedOutput(output["name"], binary))
    return requested


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of ``array`` (object and string arrays are ``BYTES``)."""
    if array.dtype.kind in "OSU":
        return BYTES
    for name, dtype in DTYPES.items():
        if array.dtype == dtype or array.dtype == dtype.newbyteorder("="):
            return name
    raise ValueError(f"no V2 datatype for {array.dtype}")


def _bytes_elements(array: np.ndarray) -> list[bytes]:
    return [x if isinstance(x, bytes) else str(x).encode() for x in array.reshape(-1)]


def encode_response(
    model: str,
    version: str,
    request_id: str,
    outputs: Sequence[tuple[str, np.ndarray]],
    binary: Sequence[bool],
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """An inference response body, and its JSON header's length when any output is binary.

    Args:
        model: The model name.
        version: The model version.
        request_id: Echoed as ``id`` when not empty.
        outputs: Output names and arrays, in response order.
        binary: Per output, whether to send it as binary tensor data.
        parameters: Response parameters, if any.
    """
    tensors = []
    chunks = []
    for (name, array), as_binary in zip(outputs, binary, strict=True):
        datatype = datatype_of(array)
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if as_binary:
            if datatype == BYTES:
                raw = b"".join(struct.pack("<I", len(x)) + x for x in _bytes_elements(array))
            else:
                raw = np.ascontiguousarray(array, DTYPES[datatype]).tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        elif datatype == BYTES:
            tensor["data"] = [x.decode("utf-8", "replace") for x in _bytes_elements(array)]
        else:
            tensor["data"] = array.reshape(-1).tolist()
        tensors.append(tensor)
    response: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": tensors}
    if request_id:
        response["id"] = request_id
    if parameters:
        response["parameters"] = dict(parameters)
    header = orjson.dumps(response)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)


def error_body(message: str) -> bytes:
    """The protocol's error answer: ``{"error": "..."}``."""
    return orjson.dumps({"error": message})
