"""The V2 wire format: JSON and binary tensors in, out, and every malformed variant refused."""

from __future__ import annotations

import gzip
import json
import struct
import zlib

import numpy as np
import pytest

from robotops.serve.protocol import (
    ProtocolError,
    decompress,
    encode_response,
    parse_request,
)


def binary_request(tensors: list[tuple[str, str, np.ndarray]]) -> tuple[bytes, int]:
    header = {
        "inputs": [
            {
                "name": name,
                "datatype": datatype,
                "shape": list(array.shape),
                "parameters": {"binary_data_size": array.nbytes},
            }
            for name, datatype, array in tensors
        ]
    }
    head = json.dumps(header).encode()
    return head + b"".join(a.tobytes() for _, _, a in tensors), len(head)


def test_json_tensors_parse_to_arrays_of_the_declared_dtype_and_shape() -> None:
    body = json.dumps(
        {
            "id": "r1",
            "inputs": [
                {
                    "name": "rgb",
                    "datatype": "UINT8",
                    "shape": [1, 2, 2, 3],
                    "data": list(range(12)),
                },
                {"name": "xyz", "datatype": "FP32", "shape": [1, 1, 3], "data": [[[0.5, 1, 2]]]},
            ],
            "outputs": [{"name": "label"}],
            "parameters": {"site": "loft"},
        }
    ).encode()
    request = parse_request(body)
    assert request.id == "r1"
    assert request.inputs["rgb"].dtype == np.uint8
    assert request.inputs["rgb"].shape == (1, 2, 2, 3)
    assert request.inputs["rgb"][0, 1, 1, 2] == 11
    assert request.inputs["xyz"].dtype == np.float32
    np.testing.assert_array_equal(request.inputs["xyz"][0, 0], [0.5, 1, 2])
    assert [o.name for o in request.outputs or []] == ["label"]
    assert request.parameters == {"site": "loft"}


def test_binary_tensors_parse_exactly() -> None:
    rgb = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    depth = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4) * 300
    body, length = binary_request([("rgb", "UINT8", rgb), ("depth_mm", "UINT16", depth)])
    request = parse_request(body, str(length))
    np.testing.assert_array_equal(request.inputs["rgb"], rgb)
    np.testing.assert_array_equal(request.inputs["depth_mm"], depth)


def test_binary_bytes_tensors_carry_length_prefixed_elements() -> None:
    raw = b"".join(struct.pack("<I", len(s)) + s for s in (b"ab", b"", b"xyz"))
    header = {
        "inputs": [
            {
                "name": "names",
                "datatype": "BYTES",
                "shape": [3],
                "parameters": {"binary_data_size": len(raw)},
            }
        ]
    }
    head = json.dumps(header).encode()
    request = parse_request(head + raw, len(head))
    assert list(request.inputs["names"]) == [b"ab", b"", b"xyz"]


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[]", None, "JSON object"),
        (b'{"inputs": []}', None, "no 'inputs'"),
        (b'{"inputs": [{"datatype": "UINT8", "shape": [1], "data": [1]}]}', None, "no name"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT9", "shape": [1], "data": [1]}]}', None,
         "unknown datatype"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [-1], "data": [1]}]}', None,
         "shape must be"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [3], "data": [1, 2]}]}', None,
         "2 values for shape [3]"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [300]}]}', None,
         "not UINT8 values"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1]}]}', None,
         "neither data nor binary_data_size"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [1]},'
         b' {"name": "a", "datatype": "UINT8", "shape": [1], "data": [1]}]}', None, "given twice"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [1]}]}', "x",
         "not an integer"),
        (b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [1]}]}', "9999",
         "does not fit"),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused_with_a_message_naming_the_problem(
    body: bytes, header: str | None, message: str
) -> None:
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        parse_request(body, header)
    assert err.value.http_status == 400


def test_binary_sizes_that_do_not_add_up_are_refused() -> None:
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    body, length = binary_request([("rgb", "UINT8", rgb)])
    with pytest.raises(ProtocolError, match="overruns the body"):
        parse_request(body[:-1], length)  # one byte short
    with pytest.raises(ProtocolError, match="unclaimed"):
        parse_request(body + b"\0", length)
    wrong = body.replace(b'"binary_data_size": 12', b'"binary_data_size": 11')
    with pytest.raises(ProtocolError, match="11 bytes of binary data"):
        parse_request(wrong + b"\0", length)


def test_responses_round_trip_in_json_and_binary() -> None:
    outputs = [
        ("label", np.array([b"glass_door", b"no_door"], dtype=object)),
        ("probabilities", np.array([[0.7, 0.3], [0.2, 0.8]], np.float32)),
    ]
    body, length = encode_response("m", "3", "r9", outputs, [False, False])
    assert length is None
    doc = json.loads(body)
    assert doc["id"] == "r9" and doc["model_version"] == "3"
    assert doc["outputs"][0] == {
        "name": "label", "datatype": "BYTES", "shape": [2], "data": ["glass_door", "no_door"]
    }  # fmt: skip
    body, length = encode_response("m", "3", "", outputs, [True, True])
    header = json.loads(body[:length])
    assert "id" not in header
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    tail = body[length:]
    assert len(tail) == sum(sizes)
    labels = tail[: sizes[0]]
    assert labels == struct.pack("<I", 10) + b"glass_door" + struct.pack("<I", 7) + b"no_door"
    probabilities = np.frombuffer(tail[sizes[0] :], "<f4").reshape(2, 2)
    np.testing.assert_array_equal(probabilities, outputs[1][1])


def test_compressed_bodies_are_inflated_within_the_limit() -> None:
    data = b"x" * 1000
    assert decompress(gzip.compress(data), "gzip", 2000) == data
    assert decompress(zlib.compress(data), "deflate", 2000) == data
    with pytest.raises(ProtocolError, match="once decompressed") as err:
        decompress(gzip.compress(data), "gzip", 999)
    assert err.value.http_status == 413
    with pytest.raises(ProtocolError, match="not valid gzip"):
        decompress(b"not gzip", "gzip", 2000)
    with pytest.raises(ProtocolError, match="not supported") as err:
        decompress(data, "br", 2000)
    assert err.value.http_status == 415
