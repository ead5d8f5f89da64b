"""Serving: ``robotops serve`` against ``mlflow models serve`` of the same model and frames.

Frames: simulated office frames as a robot sends them (160x120 colour and depth, one full LiDAR
sweep of about 16,000 points), decoded from a freshly ingested dataset. Model: an untrained
fusion model of the demo's size, exported by :func:`robotops.export.export_bundle` (the compute
is a trained model's; its output layer is scaled so that its confidences look like a trained
model's, which matters for how many inputs the prediction log keeps).

Baseline: an ``mlflow.pyfunc`` model (models from code) whose ``predict`` takes the same raw
arrays (``rgb``, ``depth_mm``, ``xyz``, batch first, a tensor signature) and runs the same
bundle through :meth:`robotops.runtime.Bundle.predict_frames`, served by ``mlflow models serve
--env-manager local`` with MLflow's defaults (one uvicorn worker). Both load the model with one
ONNX Runtime thread per inference, which is ``robotops serve``'s default.

Both servers run as their real commands in subprocesses; this process is the load generator:
``C`` threads, each with its own keep-alive connection, send single-frame requests back to back
for a fixed window after a warm-up. The request bodies are encoded beforehand (robotops: the
binary tensor extension as :class:`robotops.serve.client.InferenceClient` sends it, or JSON
tensors; MLflow: ``{"inputs": {...}}`` with nested lists), so the client spends its CPU on HTTP
only; its CPU use and the server's are measured from ``/proc`` and reported.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robotops.config import Config
from robotops.dataset.labels import import_labels
from robotops.dataset.store import Store
from robotops.export import export_bundle
from robotops.ingest.ingest import ingest
from robotops.runtime import Frame, load_bundle
from robotops.runtime.bundle import predictions
from robotops.serve.client import InferenceClient, frame_tensors
from robotops.serve.model import ServedModel, output_arrays
from robotops.serve.protocol import HEADER_LENGTH, encode_response, parse_request
from robotops.serve.replay import select_frames
from robotops.sim import SimConfig, simulate
from robotops.transforms import (
    PreprocessSpec,
    preprocess_depth,
    preprocess_frame,
    preprocess_lidar,
    preprocess_rgb,
    stack_samples,
)

CONCURRENCY = (1, 8, 32)
WINDOW_S = 8.0  # measured seconds per point
WARMUP_S = 2.0  # requests before the window are not counted
POOL = 8  # distinct frames the clients cycle through
SPEC = PreprocessSpec(image_height=48, image_width=48, lidar_points=256)
HYPER = {"width": 8, "point_width": 16, "hidden": 32}  # the demo's fusion model
HEAD_SCALE = 40.0  # sharpens the untrained model's probabilities (see the module doc)
PROFILE_CALLS = 100
IDLE_CALLS = 50
QUIET_WAIT_S = 10.0
QUIET_CORES = 0.25
ROBOTOPS_VARIANTS = (("--workers", "1"), ("--workers", "4"), ("--threads", "2"))
READY_RE = re.compile(r"at (http://[^/\s]+)/v2/models/([^;\s]+);")
T = TypeVar("T")
STOPPED_RE = re.compile(r"stopped: (\d+) frames served(?:, (\d+) logged)?")

MLFLOW_MODEL = '''\
"""The robotops bundle as an MLflow pyfunc model: raw frames in, probabilities out."""

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class BundleModel(PythonModel):
    def load_context(self, context):
        from robotops.runtime import load_bundle

        self.bundle = load_bundle(context.artifacts["bundle"], threads=1)

    def predict(self, context, model_input, params=None):
        rgb, depth, xyz = (model_input[k] for k in ("rgb", "depth_mm", "xyz"))
        frames = [
            (rgb[i], depth[i], xyz[i][np.isfinite(xyz[i]).all(axis=1)]) for i in range(len(rgb))
        ]
        predictions = self.bundle.predict_frames(frames)
        return np.array([p.probabilities for p in predictions], np.float32)


mlflow.models.set_model(BundleModel())
'''


@dataclass(frozen=True)
class Request:
    """A ready-made HTTP request: path, body, headers."""

    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Point:
    """One load point: throughput, latency and the CPU both sides used.

    Attributes:
        fps: Frames answered per second in the window.
        p50_ms: Median round trip.
        p99_ms: 99th percentile round trip.
        requests: Requests that started in the window.
        server_cores: Server CPU seconds per second (all its processes and threads).
        client_cores: Load generator CPU seconds per second.
        other_cores: CPU seconds per second of everything else on the machine.
    """

    fps: float
    p50_ms: float
    p99_ms: float
    requests: int
    server_cores: float
    client_cores: float
    other_cores: float


# -- data, model, servers ---------------------------------------------------------------------


def _frames(root: Path) -> tuple[list[Frame], list[str], tuple[str, ...]]:
    """Simulated frames with every modality, their labels and the class list."""
    recordings = simulate(
        SimConfig(out_dir=root / "recordings", sites=("atrium", "unseen-1"), frames=6)
    )
    store = Store(root / "datasets")
    ingest([r.bag for r in recordings], store, "doors", Config())
    import_labels(store, "doors", [r.labels for r in recordings])
    snapshot = store.snapshot("doors")
    chosen = [f for f in select_frames(snapshot) if all(a is not None for a in f.frame)]
    return [f.frame for f in chosen], [str(f.label) for f in chosen], snapshot.classes


def _bundle(
    root: Path, frames: list[Frame], labels: list[str], classes: tuple[str, ...]
) -> tuple[Path, int]:
    """Export an untrained demo-size fusion model; the bundle folder and the parameter count."""
    import torch

    from robotops.models import build_model
    from robotops.train.checkpoint import model_meta, save_checkpoint
    from robotops.train.data import FrameArrays

    torch.manual_seed(0)
    model = build_model("fusion", len(classes), **HYPER).eval()
    with torch.no_grad():
        model.head.mlp[-1].weight.mul_(HEAD_SCALE)
    checkpoint = save_checkpoint(
        root / "best.safetensors", model, model_meta(model, classes, SPEC.to_dict())
    )
    held_out = FrameArrays(
        stack_samples([preprocess_frame(*f, SPEC) for f in frames]),
        np.array([classes.index(label) for label in labels], np.int64),
        tuple(f"frame-{i}" for i in range(len(frames))),
        classes,
        cached=False,
    )
    out = root / "bundle"
    export_bundle(checkpoint, out, held_out, int8=False, name="doors", version="1")
    return out, sum(p.numel() for p in model.parameters())


def _mlflow_model(root: Path, bundle: Path) -> Path:
    """Save the MLflow pyfunc baseline; returns its folder."""
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    code = root / "mlflow_model.py"
    code.write_text(MLFLOW_MODEL)
    k = len(load_bundle(bundle).classes)
    signature = ModelSignature(
        inputs=Schema(
            [
                TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3), "rgb"),
                TensorSpec(np.dtype(np.uint16), (-1, -1, -1), "depth_mm"),
                TensorSpec(np.dtype(np.float32), (-1, -1, 3), "xyz"),
            ]
        ),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, k))]),
    )
    path = root / "mlflow-model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no input example: the signature says it all
        mlflow.pyfunc.save_model(
            path,
            python_model=str(code),
            artifacts={"bundle": str(bundle)},
            signature=signature,
            pip_requirements=["robotops"],  # given, so MLflow does not infer them
        )
    return path


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # offline: nothing to send it to
    env["DO_NOT_TRACK"] = "true"
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    env["COLUMNS"] = "1000"  # rich would wrap the ready and stopped lines at 80 characters
    return env


@dataclass
class Server:
    """A server subprocess: its URL, process, and what it printed."""

    url: str
    model: str
    process: subprocess.Popen
    output: Path
    stopped: str = ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def _wait_for(check: Callable[[], bool], process: subprocess.Popen, output: Path) -> None:
    deadline = time.monotonic() + 120
    while not check():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{output.read_text()[-3000:]}")
        time.sleep(0.05)


@contextmanager
def _server(command: list[str], root: Path, name: str, url: str | None = None) -> Iterator[Server]:
    """Run ``command`` until the block ends; robotops' URL comes from its ready line."""
    output = root / f"{name}.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=_environment(),
            start_new_session=True,  # MLflow runs uvicorn as a child: stop the whole group
        )
    server = Server(url or "", "", process, output)
    try:
        if url is None:
            _wait_for(lambda: READY_RE.search(output.read_text()) is not None, process, output)
            found = READY_RE.search(output.read_text())
            assert found is not None
            server.url, server.model = found.group(1), found.group(2)
        else:
            _wait_for(lambda: _get(server.port, "/ping") == 200, process, output)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        server.stopped = output.read_text()


def _robotops(bundle: Path, root: Path, name: str, *options: str) -> Iterator[Server]:
    command = [sys.executable, "-m", "robotops", "serve", str(bundle), "--port", "0", *options]
    return _server(command, root, name)


def _mlflow(model: Path, root: Path) -> Iterator[Server]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        *(str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", str(model)),
        *("--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)),
    ]
    return _server(command, root, "mlflow", f"http://127.0.0.1:{port}")


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle), from ``/proc/stat``."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _wait_quiet() -> None:
    """Wait, up to QUIET_WAIT_S, until the machine is nearly idle (others may share it)."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while time.monotonic() < deadline:
        busy = _busy_seconds()
        time.sleep(0.5)
        if (_busy_seconds() - busy) / 0.5 < QUIET_CORES:
            return


# -- requests ---------------------------------------------------------------------------------


class _Captured(Exception):
    """Carries the request an :class:`InferenceClient` was about to send."""

    def __init__(self, request: Request) -> None:
        super().__init__(request.path)
        self.request = request


class _Recorder(InferenceClient):
    """A client that hands over its request instead of sending it."""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        raise _Captured(Request(path, body or b"", dict(headers or {})))


def _robotops_binary(model: str, frame: Frame) -> Request:
    """Exactly what :class:`InferenceClient` sends for one frame (binary tensors)."""
    try:
        _Recorder("http://127.0.0.1:9", model).infer([frame])
    except _Captured as captured:
        return captured.request
    raise AssertionError("the client sent no request")


def _robotops_json(model: str, frame: Frame) -> Request:
    inputs = [
        {"name": name, "datatype": datatype, "shape": list(a.shape), "data": a.ravel().tolist()}
        for name, datatype, a in frame_tensors([frame])
    ]
    body = json.dumps({"inputs": inputs}).encode()
    return Request(f"/v2/models/{model}/infer", body, {"Content-Type": "application/json"})


def _mlflow_json(frame: Frame) -> Request:
    inputs = {k: a[None].tolist() for k, a in zip(("rgb", "depth_mm", "xyz"), frame, strict=True)}
    body = json.dumps({"inputs": inputs}).encode()
    return Request("/invocations", body, {"Content-Type": "application/json"})


def _post(port: int, request: Request) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", request.path, request.body, request.headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _check_same(
    frames: list[Frame], robotops: Server, mlflow: Server, bundle: Path
) -> tuple[int, float]:
    """Both servers and the bundle in this process give the same class for every frame.

    Returns the frames checked and the largest probability difference seen.
    """
    local = load_bundle(bundle).predict_frames(frames)
    with InferenceClient(robotops.url, robotops.model) as client:
        served = [client.infer([frame])[0] for frame in frames]
    worst = 0.0
    for frame, mine, theirs in zip(frames, local, served, strict=True):
        status, body = _post(mlflow.port, _mlflow_json(frame))
        if status != 200:
            raise RuntimeError(f"MLflow answered {status}: {body[:300]!r}")
        probabilities = np.asarray(json.loads(body)["predictions"][0], np.float32)
        status, body = _post(robotops.port, _robotops_json(robotops.model, frame))
        if status != 200:
            raise RuntimeError(f"robotops (JSON) answered {status}: {body[:300]!r}")
        outputs = {o["name"]: o["data"] for o in json.loads(body)["outputs"]}
        by_json = outputs["index"][0]
        classes = {mine.index, theirs.index, int(probabilities.argmax()), by_json}
        if len(classes) != 1:
            raise RuntimeError(f"the servers disagree on a frame's class: {classes}")
        for other in (theirs.probabilities, probabilities):
            worst = max(worst, float(np.abs(np.subtract(mine.probabilities, other)).max()))
    return len(frames), worst


# -- load -------------------------------------------------------------------------------------


def _load(server: Server, requests: list[Request], concurrency: int) -> Point:
    """``concurrency`` clients, each sending ``requests`` in turn over a keep-alive connection.

    The window opens once every client has had an answer and ``WARMUP_S`` has passed (MLflow
    takes longer than that to answer 32 waiting clients once each); requests that start in it
    give the latencies, answers that arrive in it the throughput.
    """
    window: list[float] = []  # [start, end], set once every client is warm
    warm = threading.Semaphore(0)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    completed = [0] * concurrency
    errors: list[str] = []

    def client(k: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        i, first = k, True
        try:
            while not window or time.perf_counter() < window[1]:
                sent = time.perf_counter()
                request = requests[i % len(requests)]
                i += 1
                connection.request("POST", request.path, request.body, request.headers)
                response = connection.getresponse()
                body = response.read()
                done = time.perf_counter()
                if response.status != 200:
                    errors.append(f"{response.status}: {body[:200]!r}")
                    return
                if first:
                    warm.release()
                    first = False
                if window and sent >= window[0]:
                    latencies[k].append(done - sent)
                if window and window[0] <= done <= window[1]:
                    completed[k] += 1
        except OSError as err:
            errors.append(repr(err))
        finally:
            connection.close()
            if first:
                warm.release()

    _wait_quiet()
    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    for _ in threads:
        warm.acquire()
    start = max(time.perf_counter(), began + WARMUP_S)
    window[:] = [start, start + WINDOW_S]
    time.sleep(max(start - time.perf_counter(), 0))
    server_cpu, client_cpu = _cpu_seconds(server.process.pid), time.process_time()
    busy = _busy_seconds()
    time.sleep(max(start + WINDOW_S - time.perf_counter(), 0))
    server_cpu = _cpu_seconds(server.process.pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    busy = _busy_seconds() - busy
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, the first: {errors[0]}")
    times = np.concatenate([np.asarray(t) for t in latencies]) * 1000.0
    return Point(
        fps=sum(completed) / WINDOW_S,
        p50_ms=float(np.percentile(times, 50)),
        p99_ms=float(np.percentile(times, 99)),
        requests=len(times),
        server_cores=server_cpu / WINDOW_S,
        client_cores=client_cpu / WINDOW_S,
        other_cores=max(busy - server_cpu - client_cpu, 0.0) / WINDOW_S,
    )


def _sweep(server: Server, requests: list[Request], label: str) -> dict[int, Point]:
    points = {}
    for c in CONCURRENCY:
        points[c] = p = _load(server, requests, c)
        print(f"  {label}, C={c}: {p.fps:,.1f} frames/s, p50 {p.p50_ms:.1f} ms", flush=True)
    return points


def _idle_ms(server: Server, path: str) -> float:
    """Median round trip of a request that does nothing (a health check), keep-alive."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    times = []
    try:
        for _ in range(IDLE_CALLS):
            started = time.perf_counter()
            connection.request("GET", path)
            connection.getresponse().read()
            times.append(time.perf_counter() - started)
    finally:
        connection.close()
    return 1000.0 * float(np.median(times))


def _quietly(measure: Callable[..., T], *args: object) -> T:
    """``measure(*args)`` once the machine is quiet (see :func:`_wait_quiet`)."""
    _wait_quiet()
    return measure(*args)


# -- where the time goes ----------------------------------------------------------------------


def _timed(call: Callable[[], object], calls: int = PROFILE_CALLS) -> float:
    """Median milliseconds of ``call()``."""
    call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(times))


def _profile_robotops(bundle: Path, request: Request) -> dict[str, float]:
    """Milliseconds per stage of the robotops request path, run in this process on one thread."""
    model = ServedModel("doors", load_bundle(bundle, threads=1), "0" * 64)
    spec = model.bundle.spec
    body, length = request.body, request.headers[HEADER_LENGTH]
    frames = model.frames(parse_request(body, length).inputs, 64)
    arrays = model.bundle.preprocess(frames)
    probabilities = model.bundle.predict_arrays(arrays)
    rgb, depth, xyz = frames[0]

    def answer() -> object:
        outputs = output_arrays(predictions(probabilities, model.bundle.classes))
        return encode_response("doors", "1", "", list(outputs.items()), [True] * len(outputs))

    return {
        "parse request": _timed(lambda: model.frames(parse_request(body, length).inputs, 64)),
        "preprocess images": _timed(
            lambda: (preprocess_rgb(rgb, spec), preprocess_depth(depth, spec))
        ),
        "preprocess LiDAR": _timed(lambda: preprocess_lidar(xyz, spec)),
        "ONNX Runtime": _timed(lambda: model.bundle.predict_arrays(arrays)),
        "answer": _timed(answer),
    }


def _mlflow_predict_ms(path: Path, request: Request) -> float:
    """Milliseconds of MLflow's call of the model on one frame, in this process.

    The rest of MLflow's round trip (JSON to arrays, the schema check, the answer, HTTP) is
    taken from the measured round trip rather than timed here: it is allocation-heavy work
    whose time depends on the process's heap, and this process's is not the server's.
    """
    import mlflow
    from mlflow.pyfunc.scoring_server import _parse_json_data

    model = mlflow.pyfunc.load_model(str(path))
    parsed = _parse_json_data(
        request.body.decode(), model.metadata, model.metadata.get_input_schema()
    )
    return _timed(lambda: model.predict(parsed.data))


# -- the section ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """Everything the section reports."""

    points: dict[str, dict[int, Point]]  # server -> concurrency -> point
    json_point: Point  # robotops with JSON tensors, C = 8, no log
    variants: dict[str, Point]  # robotops options -> point at C = 8, no log
    idle_ms: dict[str, float]  # server -> round trip of a health check
    profile: dict[str, float]
    mlflow_predict_ms: float
    request_kb: dict[str, float]
    lidar_points: int
    parameters: int
    checked: int
    worst_difference: float
    stopped: str  # what the logging server printed when it stopped
    stop_s: float
    kept: float
    seconds: float


def run() -> str:
    """Measure and return the Markdown section."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        frames, labels, classes = _frames(root)
        bundle, parameters = _bundle(root, frames, labels, classes)
        mlflow_path = _mlflow_model(root, bundle)
        pool = frames[:: max(len(frames) // POOL, 1)][:POOL]
        print(f"  frames, bundle and MLflow model in {time.perf_counter() - started:.0f} s")
        points: dict[str, dict[int, Point]] = {}
        idle = {}
        with _mlflow(mlflow_path, root) as mlflow_server:
            with _robotops(bundle, root, "check", "--no-log") as check:
                checked, worst = _check_same(pool, check, mlflow_server, bundle)
                name = check.model
            mlflow_requests = [_mlflow_json(f) for f in pool]
            idle["MLflow"] = _idle_ms(mlflow_server, "/ping")
            points["MLflow"] = _sweep(mlflow_server, mlflow_requests, "MLflow")
        binary = [_robotops_binary(name, f) for f in pool]
        as_json = [_robotops_json(name, f) for f in pool]
        with _robotops(bundle, root, "nolog", "--no-log") as server:
            idle["robotops"] = _idle_ms(server, "/v2/health/ready")
            points["robotops"] = _sweep(server, binary, "robotops")
            json_point = _load(server, as_json, 8)
        log_dir = root / "predictions"
        with _robotops(bundle, root, "log", "--log", str(log_dir)) as server:
            points["robotops, log on"] = _sweep(server, binary, "robotops, log on")
            stopping = time.perf_counter()
        stop_s = time.perf_counter() - stopping
        variants = {}
        for option in ROBOTOPS_VARIANTS:
            with _robotops(bundle, root, option[0][2:], "--no-log", *option) as variant:
                variants[" ".join(option)] = _load(variant, binary, 8)
        results = Results(
            points=points,
            json_point=json_point,
            variants=variants,
            idle_ms=idle,
            profile=_quietly(_profile_robotops, bundle, binary[0]),
            mlflow_predict_ms=_quietly(_mlflow_predict_ms, mlflow_path, mlflow_requests[0]),
            request_kb={
                k: float(np.mean([len(r.body) for r in v])) / 1024
                for k, v in (("binary", binary), ("json", as_json), ("mlflow", mlflow_requests))
            },
            lidar_points=int(np.mean([len(f.xyz) for f in pool if f.xyz is not None])),
            parameters=parameters,
            checked=checked,
            worst_difference=worst,
            stopped=server.stopped,
            stop_s=stop_s,
            kept=_kept_share(log_dir),
            seconds=time.perf_counter() - started,
        )
    return _section(results)


def _kept_share(log_dir: Path) -> float:
    from robotops.serve.predlog import read_log

    kept = read_log(log_dir, columns=["input_kept"]).column("input_kept").to_pylist()
    return sum(kept) / max(len(kept), 1)


def _versions() -> str:
    from importlib.metadata import version

    names = ("robotops", "mlflow", "onnxruntime", "uvicorn", "starlette", "fastapi", "numpy")
    return ", ".join(f"{n} {version(n)}" for n in names)


def _row(c: int | str, label: str, p: Point, base: Point | None) -> str:
    ratios = (
        "| | | |"
        if base is None
        else f"| {p.fps / base.fps:.1f}x | {base.p50_ms / p.p50_ms:.1f}x "
        f"| {base.p99_ms / p.p99_ms:.1f}x |"
    )
    return (
        f"| {c} | {label} | {p.fps:,.1f} | {p.p50_ms:,.1f} | {p.p99_ms:,.1f} "
        f"| {p.server_cores:.2f} | {p.client_cores:.2f} | {p.other_cores:.2f} {ratios}"
    )


def _section(r: Results) -> str:
    base, rob, log_on = r.points["MLflow"], r.points["robotops"], r.points["robotops, log on"]
    kb = r.request_kb
    lines = [
        "## Serving (`robotops serve`)",
        "",
        f"`bench/bench_serve.py` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {_versions()}.",
        f"Frames: {POOL} simulated office frames (160x120 colour and depth, one full LiDAR sweep "
        f"of {r.lidar_points:,} points), {kb['binary']:.0f} KB per request as binary tensors, "
        f"{kb['json']:,.0f} KB as robotops JSON tensors, {kb['mlflow']:,.0f} KB as MLflow JSON.",
        f"Model: an untrained fusion model of the demo's size ({r.parameters:,} parameters; 48x48 "
        f"images, {SPEC.lidar_points} points), one ONNX Runtime thread per inference on both "
        f"servers. `robotops serve` runs with its defaults ({os.cpu_count()} workers = cores). "
        "Baseline: the "
        "same bundle as an MLflow pyfunc model taking the same raw arrays (`predict_frames`), "
        "served by `mlflow models serve --env-manager local` with MLflow's defaults (one "
        f"uvicorn worker). Both servers gave the same class for all {r.checked} frames "
        f"(largest probability difference {r.worst_difference:.1g}).",
        f"Load: C client threads in the benchmark's process (the servers run as their commands "
        "in subprocesses), one keep-alive connection each, single-frame requests back to back; "
        f"after a warm-up of at least {WARMUP_S:.0f} s and one answer per client, {WINDOW_S:.0f} "
        "s measured per point. Bodies are encoded beforehand so that the client spends its CPU "
        f"on HTTP alone, as it shares the {os.cpu_count()} cores with the server. CPU columns, in "
        "cores used over the window (from /proc): the server (all its processes and threads), "
        "the load generator, and everything else on the machine; each point waits up to "
        f"{QUIET_WAIT_S:.0f} s for the machine to fall quiet first, and other work that still ran "
        "took cores from the server.",
        "",
        "| C | server | frames/s | p50 ms | p99 ms | server CPU | client CPU | other CPU "
        "| throughput vs MLflow | p50 vs MLflow | p99 vs MLflow |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in CONCURRENCY:
        for label, points in r.points.items():
            baseline = None if label == "MLflow" else base[c]
            lines.append(
                _row(c, f"{label}{' (baseline)' if baseline is None else ''}", points[c], baseline)
            )
    lines.append(_row(8, "robotops, JSON tensors", r.json_point, base[8]))
    busiest = max(
        p.other_cores
        for p in [*r.variants.values(), r.json_point]
        + [q for points in r.points.values() for q in points.values()]
    )
    if busiest > QUIET_CORES:
        lines += [
            "",
            f"Other work shared the machine during some points (up to {busiest:.2f} cores): "
            "compare those with care.",
        ]
    cost = ", ".join(f"{rob[c].fps / log_on[c].fps:.2f}x at C = {c}" for c in CONCURRENCY)
    stopped = STOPPED_RE.search(r.stopped)
    count = (
        f"at shutdown it counted {stopped.group(1)} frames served and {stopped.group(2)} logged"
        if stopped
        else "it printed no count at shutdown"
    )
    lines += [
        "",
        f"Logging: throughput with the log off against on: {cost} (above 1: logging costs). "
        f"With the log on, {count}; stopping (draining the log) took {r.stop_s:.1f} s. The log "
        f"kept the input of {r.kept:.0%} of the frames (low confidence or the 5% sample).",
        "",
        "Workers and threads (C = 8, no log):",
        "",
        "| options | frames/s | p50 ms | p99 ms | server CPU | other CPU | throughput vs default |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| default (--workers 2 --threads 1) | {rob[8].fps:,.1f} | {rob[8].p50_ms:.1f} "
        f"| {rob[8].p99_ms:.1f} | {rob[8].server_cores:.2f} | {rob[8].other_cores:.2f} | 1.00x |",
    ]
    for option, p in r.variants.items():
        lines.append(
            f"| {option} | {p.fps:,.1f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} "
            f"| {p.server_cores:.2f} | {p.other_cores:.2f} | {p.fps / rob[8].fps:.2f}x |"
        )
    work = sum(r.profile.values())
    m = r.mlflow_predict_ms
    lines += [
        "",
        "Where a request's time goes at C = 1: each stage of the robotops request path run on one "
        f"frame in this process (median ms of {PROFILE_CALLS} calls; MLflow: its call of the "
        "model), against the round trip and that of a request doing nothing (a health check):",
        "",
        "| server | stages, ms | their sum | round trip | the rest (HTTP, framework, MLflow's "
        "parsing) | health check |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| robotops | {'; '.join(f'{k} {v:.2f}' for k, v in r.profile.items())} | {work:.1f} "
        f"| {rob[1].p50_ms:.1f} | {rob[1].p50_ms - work:.1f} | {r.idle_ms['robotops']:.2f} |",
        f"| MLflow | predict {m:.1f} | {m:.1f} | {base[1].p50_ms:.1f} "
        f"| {base[1].p50_ms - m:.1f} | {r.idle_ms['MLflow']:.2f} |",
    ]
    largest = max(r.profile, key=lambda k: r.profile[k])
    lines += [
        "",
        f"At C = 1 a robotops round trip is {rob[1].p50_ms:.1f} ms, of which {work:.1f} ms is the "
        f"server's work ({largest} the largest stage, {r.profile[largest]:.1f} ms). MLflow's "
        f"is {base[1].p50_ms:.0f} ms, {1 - m / base[1].p50_ms:.0%} of it outside the model: "
        "JSON to nested lists (deep-copied) to arrays, under the GIL, so that its one worker "
        f"used at most {max(p.server_cores for p in base.values()):.2f} cores at any "
        "concurrency (its points rest on as few as "
        f"{min(p.requests for p in base.values())} requests). At C = {CONCURRENCY[-1]} robotops "
        f"used {rob[CONCURRENCY[-1]].server_cores:.2f} of the {os.cpu_count()} cores, and "
        f"{largest} is {r.profile[largest] / work:.0%} of its work per frame.",
    ]
    if r.idle_ms["robotops"] > 20:
        lines[-1] += (
            f" A health check takes {r.idle_ms['robotops']:.0f} ms on robotops against "
            f"{r.idle_ms['MLflow']:.1f} ms on MLflow: robotops answers wait rather than work (a "
            "wait of about 40 ms is the signature of Nagle's algorithm meeting the client's "
            "delayed ACK: check TCP_NODELAY on the server's connections)."
        )
    worst = min(rob[c].fps / base[c].fps for c in CONCURRENCY)
    at = min(CONCURRENCY, key=lambda c: rob[c].fps / base[c].fps)
    met = "met" if worst >= 5 else f"not met, short by {5 / worst:.1f}x"
    lines += [
        "",
        f"Target: at least 5x MLflow's throughput at every concurrency: {met} (lowest "
        f"{worst:.1f}x, at C = {at}). Whole benchmark {r.seconds:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
