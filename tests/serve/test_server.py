"""The real server on 127.0.0.1: tritonclient (binary and JSON), plain HTTP, bad input, metrics,
and hot reload."""

from __future__ import annotations

import gzip
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from robotops.runtime import load_bundle
from robotops.serve.predlog import read_bundles, read_log
from robotops.serve.server import background
from tests.export.synthetic import raw_frames
from tests.serve.conftest import MODEL, TOKEN, Running, start


def batch(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Raw frames with every modality, batch first (LiDAR clouds all of one size)."""
    frames = [f for f in raw_frames(count * 2, seed) if all(a is not None for a in f)][:count]
    return {
        "rgb": np.stack([f[0] for f in frames]),
        "depth_mm": np.stack([f[1] for f in frames]),
        "xyz": np.stack([f[2] for f in frames]),
    }


def triton_inputs(arrays: dict[str, np.ndarray], binary: bool) -> list[triton.InferInput]:
    inputs = []
    for name, datatype in (("rgb", "UINT8"), ("depth_mm", "UINT16"), ("xyz", "FP32")):
        tensor = triton.InferInput(name, list(arrays[name].shape), datatype)
        tensor.set_data_from_numpy(arrays[name], binary_data=binary)
        inputs.append(tensor)
    return inputs


def http(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture(scope="module")
def client(running: Running) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(running.address)


def test_health_and_metadata_answer_as_the_protocol_says(
    running: Running, client: triton.InferenceServerClient, exported
) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, "3")
    assert not client.is_model_ready("other-model")
    meta = client.get_model_metadata(MODEL)
    assert meta["versions"] == ["3"]
    assert [i["name"] for i in meta["inputs"]] == ["rgb", "depth_mm", "xyz"]
    assert meta["parameters"]["classes"] == list(exported.manifest["classes"])
    assert client.get_server_metadata()["extensions"] == ["binary_tensor_data"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_gets_the_runtime_predictions_with_its_defaults(
    client: triton.InferenceServerClient, exported, binary: bool
) -> None:
    arrays = batch(4)
    result = client.infer(MODEL, triton_inputs(arrays, binary))
    expected = load_bundle(exported.path).predict_frames(
        list(zip(arrays["rgb"], arrays["depth_mm"], arrays["xyz"], strict=True))
    )
    labels = [x.decode() for x in result.as_numpy("label")]
    assert labels == [p.label for p in expected]
    np.testing.assert_array_equal(result.as_numpy("index"), [p.index for p in expected])
    np.testing.assert_allclose(
        result.as_numpy("probabilities"), [p.probabilities for p in expected], atol=1e-5
    )
    np.testing.assert_allclose(
        result.as_numpy("confidence"), [p.confidence for p in expected], atol=1e-5
    )


def test_requested_outputs_come_back_in_the_form_asked(
    client: triton.InferenceServerClient,
) -> None:
    arrays = batch(2)
    outputs = [
        triton.InferRequestedOutput("label", binary_data=False),
        triton.InferRequestedOutput("confidence", binary_data=True),
    ]
    result = client.infer(MODEL, triton_inputs(arrays, True), outputs=outputs, request_id="abc")
    response = result.get_response()
    assert response["id"] == "abc"
    assert [o["name"] for o in response["outputs"]] == ["label", "confidence"]
    assert "data" in response["outputs"][0]
    assert response["outputs"][1]["parameters"]["binary_data_size"] == 8
    assert result.as_numpy("confidence").shape == (2,)


def test_plain_http_json_and_gzip_requests_work(running: Running) -> None:
    arrays = batch(1)
    body = json.dumps(
        {
            "inputs": [
                {"name": "rgb", "datatype": "UINT8", "shape": list(arrays["rgb"].shape),
                 "data": arrays["rgb"].ravel().tolist()},
            ]
        }
    ).encode()  # fmt: skip
    url = f"{running.url}/v2/models/{MODEL}/infer"
    status, _, data = http(url, body, {"Content-Type": "application/json"})
    assert status == 200, data
    answer = json.loads(data)
    assert answer["model_name"] == MODEL
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["label"]["data"][0] in load_bundle(running.server.model.bundle.path).classes
    assert sum(outputs["probabilities"]["data"]) == pytest.approx(1.0, abs=1e-5)
    status, _, zipped = http(url, gzip.compress(body), {"Content-Encoding": "gzip"})
    assert status == 200
    assert json.loads(zipped)["outputs"] == answer["outputs"]


def infer_error(running: Running, body: bytes, headers: dict[str, str] | None = None) -> tuple:
    status, _, data = http(f"{running.url}/v2/models/{MODEL}/infer", body, headers)
    return status, json.loads(data)["error"]


def tensor(name: str, datatype: str, shape: list[int], data: list) -> bytes:
    return json.dumps(
        {"inputs": [{"name": name, "datatype": datatype, "shape": shape, "data": data}]}
    ).encode()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{oops", 400, "not valid JSON"),
        (tensor("camera", "UINT8", [1, 1, 1, 3], [1, 2, 3]), 400, "unknown input 'camera'"),
        (tensor("rgb", "FP32", [1, 1, 1, 3], [1, 2, 3]), 400, "'rgb' must be UINT8"),
        (tensor("rgb", "UINT8", [1, 3], [1, 2, 3]), 400, "'rgb' has shape [1, 3]"),
        (tensor("rgb", "UINT8", [1, 1, 1, 4], [1, 2, 3, 4]), 400, "expected ['N', 'N', 'N', 3]"),
        (tensor("xyz", "FP32", [0, 5, 3], []), 400, "batch is empty"),
        (tensor("rgb", "UINT8", [9, 1, 1, 3], [0] * 27), 413, "at most 8"),
    ],
)
def test_bad_requests_get_a_4xx_error_naming_the_problem(
    running: Running, body: bytes, status: int, message: str
) -> None:
    got_status, error = infer_error(running, body)
    assert got_status == status
    assert message in error


def test_bodies_over_the_limit_are_refused_and_the_server_keeps_serving(
    running: Running, client: triton.InferenceServerClient
) -> None:
    # The answer comes before the body is sent: a robot on a slow link learns at once.
    host, port = running.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Length: {(1 << 20) + 1}\r\n\r\n".encode()
        )
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert "exceeds the limit of 1048576 bytes" in answer
    # A chunked body declares no length: it is counted as it streams in.
    chunk = b"0" * ((1 << 20) + 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: {host}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
            + f"{len(chunk):x}\r\n".encode()
            + chunk
            + b"\r\n0\r\n\r\n"
        )
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413")
    bomb = gzip.compress(b" " * (4 << 20))  # small on the wire, 4 MB inflated
    assert infer_error(running, bomb, {"Content-Encoding": "gzip"})[0] == 413
    status, _, data = http(f"{running.url}/v2/models/nope/infer", tensor("rgb", "UINT8", [1], [1]))
    assert status == 404 and "no model 'nope'" in json.loads(data)["error"]
    with pytest.raises(InferenceServerException, match="unknown output 'logits'"):
        client.infer(MODEL, triton_inputs(batch(1), True),
                     outputs=[triton.InferRequestedOutput("logits")])  # fmt: skip
    assert client.infer(MODEL, triton_inputs(batch(1), True)).as_numpy("label").shape == (1,)


def test_metrics_count_requests_predictions_errors_and_latency(
    running: Running, client: triton.InferenceServerClient
) -> None:
    def scrape() -> dict[str, float]:
        status, headers, data = http(f"{running.url}/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        values = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                values[key] = float(value)
        return values

    before = scrape()
    result = client.infer(MODEL, triton_inputs(batch(3), True))
    infer_error(running, tensor("camera", "UINT8", [1], [1]))
    after = scrape()

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta('robotops_requests_total{code="200",endpoint="infer"}') == 1
    assert delta('robotops_requests_total{code="400",endpoint="infer"}') == 1
    assert delta('robotops_errors_total{reason="unknown_input"}') == 1
    labels = [x.decode() for x in result.as_numpy("label")]
    for label in set(labels):
        assert delta(f'robotops_predictions_total{{label="{label}"}}') == labels.count(label)
    assert delta('robotops_request_duration_seconds_count{endpoint="infer"}') == 2
    digest = running.server.model.digest[:12]
    assert after[f'robotops_model_info{{bundle="{digest}",name="{MODEL}",version="3"}}'] == 1


def test_every_answered_frame_reaches_the_log(
    running: Running, client: triton.InferenceServerClient
) -> None:
    served = running.server.served
    client.infer(MODEL, triton_inputs(batch(5), True), parameters={"site": "loft"})
    deadline = time.monotonic() + 10
    while running.server.log.written < served + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    table = read_log(running.log_dir).to_pylist()
    assert len(table) == running.server.served
    rows = [r for r in table if r["site"] == "loft"]
    assert len(rows) == 5
    assert sorted(r["item"] for r in rows) == [0, 1, 2, 3, 4]
    assert all(r["version"] == "3" and r["bundle"] == running.server.model.digest for r in rows)
    assert all(r["lidar_returns"] == 300 for r in rows)
    assert all(r["latency_ms"] > 0 for r in rows)
    for row in rows:
        assert row["input_kept"] == (row["low_confidence"] or row["rgb"] is not None)
        if row["low_confidence"]:
            assert row["rgb"] is not None and row["lidar_points"] == 300


def test_reload_needs_the_token_and_a_bad_bundle_changes_nothing(
    tmp_path: Path, exported, second_bundle: Path
) -> None:
    server, _ = start(exported.path, tmp_path / "log")
    with background(server.app) as url:
        client = triton.InferenceServerClient(url.removeprefix("http://"))
        reload_url = f"{url}/admin/reload"
        body = json.dumps({"bundle": str(second_bundle)}).encode()
        for headers in ({}, {"Authorization": "Bearer wrong-token"}):
            status, _, data = http(reload_url, body, headers)
            assert status == 401
            assert "admin token" in json.loads(data)["error"]
        assert client.get_model_metadata(MODEL)["versions"] == ["3"]

        auth = {"Authorization": f"Bearer {TOKEN}"}
        missing = json.dumps({"bundle": str(tmp_path / "nothing")}).encode()
        status, _, data = http(reload_url, missing, auth)
        assert status == 404 and "no such bundle folder" in json.loads(data)["error"]
        assert client.get_model_metadata(MODEL)["versions"] == ["3"]

        status, _, data = http(reload_url, body, auth)
        assert status == 200, data
        answer = json.loads(data)
        assert answer["version"] == "4" and answer["previous"]["version"] == "3"
        assert client.get_model_metadata(MODEL)["versions"] == ["4"]
        result = client.infer(MODEL, triton_inputs(batch(2), True))
        assert result.get_response()["model_version"] == "4"
        expected = load_bundle(second_bundle).predict_frames(
            list(zip(*batch(2).values(), strict=True))
        )
        np.testing.assert_allclose(
            result.as_numpy("probabilities"), [p.probabilities for p in expected], atol=1e-5
        )
    bundles = read_bundles(tmp_path / "log")
    assert {b["version"] for b in bundles.values()} == {"3", "4"}
    versions = {r["version"] for r in read_log(tmp_path / "log", ["version"]).to_pylist()}
    assert versions == {"4"}


def test_reload_is_off_without_a_token(tmp_path: Path, exported) -> None:
    from robotops.serve.app import InferenceServer, ServeOptions, load_model

    options = ServeOptions(admin_token=None)
    server = InferenceServer(load_model(exported.path, None, options), options)
    with background(server.app) as url:
        status, _, data = http(f"{url}/admin/reload", b"{}", {"Authorization": "Bearer x"})
    assert status == 403
    assert "ROBOTOPS_ADMIN_TOKEN" in json.loads(data)["error"]


def test_the_listening_socket_sends_small_answers_at_once() -> None:
    """TCP_NODELAY: without it each small answer waits for the client's delayed ACK (~40 ms)."""
    from robotops.serve.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on such sockets only
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()
