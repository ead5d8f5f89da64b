"""The HTTP application: Open Inference Protocol routes, metrics and the admin reload.

================================================ ====== =========================================
route                                            method answer
================================================ ====== =========================================
``/v2``                                          GET    server metadata
``/v2/health/live``, ``/v2/health/ready``        GET    200 while alive / while a model is loaded
``/v2/models/{name}[/versions/{v}]``             GET    model metadata (inputs, outputs, classes)
``/v2/models/{name}[/versions/{v}]/ready``       GET    200 when that model is served
``/v2/models/{name}[/versions/{v}]/infer``       POST   predictions (JSON or binary tensors)
``/metrics``                                     GET    Prometheus text format
``/admin/reload``                                POST   load another bundle; needs the token
================================================ ====== =========================================

The request path is thin: the event loop reads the body and writes the answer; parsing,
checking, preprocessing and ONNX Runtime run in a worker thread (``workers`` at once), and the
prediction log's writing happens on its own thread. Every failure is answered as the protocol's
``{"error": "..."}`` with a 4xx status naming the problem (5xx only for the server's own faults),
and none of them stops the server.
"""

from __future__ import annotations

import hmac
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from robotops import __version__
from robotops.errors import RobotopsError, one_line
from robotops.runtime import load_bundle
from robotops.serve.metrics import CONTENT_TYPE, Metrics
from robotops.serve.model import ServedModel, bundle_digest, output_arrays
from robotops.serve.predlog import LogEntry, PredictionLog
from robotops.serve.protocol import (
    HEADER_LENGTH,
    ProtocolError,
    decompress,
    encode_response,
    error_body,
    parse_request,
)

JSON = "application/json"
OUTPUT_NAMES = ("label", "index", "confidence", "probabilities")


@dataclass(frozen=True)
class ServeOptions:
    """How the application serves.

    Attributes:
        max_request_bytes: Larger bodies (also once decompressed) are refused with 413.
        max_batch: Most frames in one request.
        workers: Inference requests worked on at once.
        threads: ONNX Runtime intra-op threads per inference (None: ONNX Runtime's choice).
        int8: Serve the bundle's int8 model.
        admin_token: The bearer token ``/admin/reload`` requires; None disables reloading.
    """

    max_request_bytes: int = 16 << 20
    max_batch: int = 64
    workers: int = 2
    threads: int | None = 1
    int8: bool = False
    admin_token: str | None = None


def load_model(path: Path, name: str | None, options: ServeOptions) -> ServedModel:
    """Load and verify the bundle at ``path`` as the model called ``name`` (default: its own).

    Raises:
        NotFoundError: No bundle there.
        DataError: The bundle does not verify or load.
    """
    bundle = load_bundle(path, int8=options.int8, threads=options.threads)
    return ServedModel(name or bundle.name or "model", bundle, bundle_digest(path))


class InferenceServer:
    """The application's state: the served model, the log, the metrics.

    Args:
        model: The model to serve first.
        options: How to serve.
        log: Where predictions go (None: not logged).
    """

    def __init__(
        self, model: ServedModel, options: ServeOptions, log: PredictionLog | None = None
    ) -> None:
        self.model = model
        self.options = options
        self.log = log
        self.metrics = Metrics()
        self.metrics.serving(model.name, model.version, model.digest)
        if log is not None:
            self.metrics.watch_log(log)
        self.served = 0
        self._limiter = anyio.CapacityLimiter(options.workers)
        self.app = Starlette(routes=self._routes(), lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self.log is not None:
            self.log.start()
            self.log.note_bundle(self.model.digest, self.model.info())
        try:
            yield
        finally:
            if self.log is not None:
                await anyio.to_thread.run_sync(self.log.close)

    def _routes(self) -> list[Route]:
        model = "/v2/models/{name}"
        versioned = "/v2/models/{name}/versions/{version}"
        return [
            Route("/v2", self._endpoint("server", self.server_metadata)),
            Route("/v2/health/live", self._endpoint("live", self.live)),
            Route("/v2/health/ready", self._endpoint("ready", self.ready)),
            Route(model, self._endpoint("metadata", self.model_metadata)),
            Route(versioned, self._endpoint("metadata", self.model_metadata)),
            Route(f"{model}/ready", self._endpoint("model_ready", self.model_ready)),
            Route(f"{versioned}/ready", self._endpoint("model_ready", self.model_ready)),
            Route(f"{model}/infer", self._endpoint("infer", self.infer), methods=["POST"]),
            Route(f"{versioned}/infer", self._endpoint("infer", self.infer), methods=["POST"]),
            Route("/metrics", self.scrape),
            Route("/admin/reload", self._endpoint("reload", self.reload), methods=["POST"]),
        ]

    def _endpoint(
        self, endpoint: str, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` with timing, counting and the protocol's error answers around it."""
        metrics = self.metrics

        async def wrapped(request: Request) -> Response:
            start = time.perf_counter()
            try:
                response = await handler(request)
            except RobotopsError as err:
                metrics.errors.labels(getattr(err, "reason", type(err).__name__)).inc()
                response = _error(one_line(err), err.http_status)
            except Exception as err:  # the server's own fault: answer 500, keep serving
                metrics.errors.labels("internal").inc()
                response = _error(f"internal error: {one_line(err)}", 500)
            metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
            metrics.requests.labels(endpoint, str(response.status_code)).inc()
            return response

        return wrapped

    def _model_for(self, request: Request) -> ServedModel:
        model = self.model
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name != model.name or (version not in (None, "", model.version)):
            served = f"{model.name!r} version {model.version}"
            raise ProtocolError(
                f"no model {name!r}{f' version {version}' if version else ''}; serving {served}",
                404,
                "unknown_model",
            )
        return model

    async def server_metadata(self, request: Request) -> Response:
        """``GET /v2``."""
        return _json(
            {"name": "robotops", "version": __version__, "extensions": ["binary_tensor_data"]}
        )

    async def live(self, request: Request) -> Response:
        """``GET /v2/health/live``."""
        return _json({"live": True})

    async def ready(self, request: Request) -> Response:
        """``GET /v2/health/ready``."""
        return _json({"ready": True})

    async def model_metadata(self, request: Request) -> Response:
        """``GET /v2/models/{name}``."""
        return _json(self._model_for(request).metadata())

    async def model_ready(self, request: Request) -> Response:
        """``GET /v2/models/{name}/ready``."""
        self._model_for(request)
        return _json({"name": request.path_params["name"], "ready": True})

    async def infer(self, request: Request) -> Response:
        """``POST /v2/models/{name}/infer``."""
        arrived_ns = time.time_ns()
        start = time.perf_counter()
        model = self._model_for(request)
        body = await self._body(request)
        content, header_length = await anyio.to_thread.run_sync(
            self._infer, model, body, request, arrived_ns, start, limiter=self._limiter
        )
        headers = {} if header_length is None else {HEADER_LENGTH: str(header_length)}
        media = JSON if header_length is None else "application/octet-stream"
        return Response(content, 200, headers=headers, media_type=media)

    def _infer(
        self, model: ServedModel, body: bytes, request: Request, arrived_ns: int, start: float
    ) -> tuple[bytes, int | None]:
        limit = self.options.max_request_bytes
        body = decompress(body, request.headers.get("content-encoding"), limit)
        parsed = parse_request(body, request.headers.get(HEADER_LENGTH.lower()))
        frames = model.frames(parsed.inputs, self.options.max_batch)
        outputs = output_arrays(model.predict(frames))
        if parsed.outputs is None:
            names = list(OUTPUT_NAMES)
            binary = [parsed.binary_output] * len(names)
        else:
            unknown = [o.name for o in parsed.outputs if o.name not in outputs]
            if unknown:
                raise ProtocolError(
                    f"unknown output {unknown[0]!r}; the model gives {', '.join(OUTPUT_NAMES)}",
                    reason="unknown_output",
                )
            names = [o.name for o in parsed.outputs]
            binary = [o.binary or parsed.binary_output for o in parsed.outputs]
        content = encode_response(
            model.name, model.version, parsed.id, [(n, outputs[n]) for n in names], binary
        )
        latency_ms = (time.perf_counter() - start) * 1000.0
        labels = outputs["label"]
        for label in labels:
            self.metrics.predictions.labels(label.decode()).inc()
        self.served += len(frames)
        if self.log is not None:
            self._log(model, parsed.id, parsed.parameters, frames, outputs, arrived_ns, latency_ms)
        return content

    def _log(
        self,
        model: ServedModel,
        request_id: str,
        parameters: dict[str, Any],
        frames: list,
        outputs: dict,
        arrived_ns: int,
        latency_ms: float,
    ) -> None:
        assert self.log is not None
        rid = request_id or uuid.uuid4().hex
        robot, site = parameters.get("robot"), parameters.get("site")
        self.log.submit(
            [
                LogEntry(
                    request_id=rid,
                    item=i,
                    time_ns=arrived_ns,
                    model=model.name,
                    version=model.version,
                    bundle=model.digest,
                    label=outputs["label"][i].decode(),
                    index=int(outputs["index"][i]),
                    confidence=float(outputs["confidence"][i]),
                    probabilities=tuple(map(float, outputs["probabilities"][i])),
                    latency_ms=latency_ms,
                    frame=frame,
                    robot=str(robot) if robot is not None else None,
                    site=str(site) if site is not None else None,
                )
                for i, frame in enumerate(frames)
            ]
        )

    async def _body(self, request: Request) -> bytes:
        """The request body, refused with 413 as soon as it passes the limit."""
        limit = self.options.max_request_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ProtocolError(_too_large(int(declared), limit), 413, "too_large")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ProtocolError(_too_large(size, limit), 413, "too_large")
            chunks.append(chunk)
        return b"".join(chunks)

    async def scrape(self, request: Request) -> Response:
        """``GET /metrics``."""
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def reload(self, request: Request) -> Response:
        """``POST /admin/reload``: serve another bundle (body ``{"bundle": PATH}``).

        Without a body the current bundle's folder is loaded again (after it was replaced in
        place). The new bundle is verified and loaded before it replaces the old one, so a bad
        bundle is refused and the old one keeps serving.
        """
        token = self.options.admin_token
        if token is None:
            self.metrics.reloads.labels("refused").inc()
            raise ProtocolError(
                "reloading is off: start the server with ROBOTOPS_ADMIN_TOKEN set",
                403,
                "forbidden",
            )
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            self.metrics.reloads.labels("refused").inc()
            raise ProtocolError(
                "missing or wrong admin token (Authorization: Bearer TOKEN)", 401, "unauthorized"
            )
        body = await self._body(request)
        try:
            asked = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError as err:
            raise ProtocolError(f"reload body is not valid JSON: {err}", reason="json") from err
        if not isinstance(asked, dict):
            raise ProtocolError('reload body must be {"bundle": PATH}', reason="json")
        path = Path(asked.get("bundle") or self.model.bundle.path)
        previous = self.model
        try:
            model = await anyio.to_thread.run_sync(load_model, path, previous.name, self.options)
        except RobotopsError:
            self.metrics.reloads.labels("failed").inc()
            raise
        self.model = model
        if self.log is not None:
            self.log.note_bundle(model.digest, model.info())
        self.metrics.serving(model.name, model.version, model.digest)
        self.metrics.reloads.labels("ok").inc()
        return _json(
            {
                "model": model.name,
                "version": model.version,
                "bundle": model.digest,
                "previous": {"version": previous.version, "bundle": previous.digest},
                "path": os.fspath(path),
            }
        )


def _too_large(size: int, limit: int) -> str:
    return (
        f"request body of {size} bytes exceeds the limit of {limit} bytes "
        "(serve.max_request_mb in robotops.yaml)"
    )


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type=JSON)


def _error(message: str, status: int) -> Response:
    return Response(error_body(message), status, media_type=JSON)
