"""Commands that run a bundle as a service: serve (the server) and replay (a client)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated

import typer

from robotops.cli._app import ConfigOption, StoreOption, app, console, err_console, setup
from robotops.errors import UsageError
from robotops.progress import frame_progress

TOKEN_ENV = "ROBOTOPS_ADMIN_TOKEN"


@app.command("serve")
def serve_command(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder (robotops export --out).")],
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: serve.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: serve.port, 8000); 0 picks a free one.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Model name in the URLs (default: the bundle's registered name)."),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(help="Prediction log folder (default: serve.log, ./predictions)."),
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Log no predictions.")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Serve the bundle's int8 model.")] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Inference requests worked on at once (default: cores).")
    ] = os.cpu_count() or 1,
    threads: Annotated[int, typer.Option(min=1, help="ONNX Runtime threads per request.")] = 1,
    config: ConfigOption = None,
) -> None:
    """Serve a bundle over the Open Inference Protocol (KServe V2) until Ctrl-C or SIGTERM.

    Clients send raw frames (rgb UINT8 [N,H,W,3], depth_mm UINT16 [N,H,W], xyz FP32 [N,M,3],
    any of them) as JSON or binary tensors to /v2/models/NAME/infer; the server preprocesses
    them as training did. /metrics serves Prometheus metrics. Every prediction goes to the log
    (its input too when confidence is low, and for a sample), which `robotops monitor` reads.

    Set ROBOTOPS_ADMIN_TOKEN to allow POST /admin/reload with 'Authorization: Bearer TOKEN'
    and body {"bundle": PATH}, which swaps in a new bundle without a restart.
    """
    from robotops.serve.app import InferenceServer, ServeOptions, load_model
    from robotops.serve.predlog import PredictionLog
    from robotops.serve.server import bind, serve_forever, url_of

    cfg, _ = setup(config, None)
    settings = cfg.serve
    token = os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 16:
        raise UsageError(f"{TOKEN_ENV} is shorter than 16 characters; use a long random token")
    options = ServeOptions(
        max_request_bytes=int(settings.max_request_mb * (1 << 20)),
        max_batch=settings.max_batch,
        workers=workers,
        threads=threads,
        int8=int8,
        admin_token=token,
    )
    model = load_model(bundle, name, options)
    if name is None and model.bundle.name is None:  # a bundle exported from a checkpoint
        model = dataclasses.replace(model, name=cfg.registry.model)
    log_dir = None if no_log else (log or Path(settings.log))
    prediction_log = (
        None
        if log_dir is None
        else PredictionLog(
            log_dir,
            sample_rate=settings.log_sample_rate,
            low_confidence=settings.low_confidence,
            batch_rows=settings.log_batch_rows,
            flush_seconds=settings.log_flush_seconds,
        )
    )
    server = InferenceServer(model, options, prediction_log)
    sock = bind(host or settings.host, settings.port if port is None else port)
    url = url_of(sock)

    def ready() -> None:
        where = f"logging to {log_dir}" if log_dir else "not logging"
        console.print(
            f"serving {model.name} version {model.version} (bundle {model.digest[:12]}) at "
            f"{url}/v2/models/{model.name}; {where}; reload "
            f"{'on' if token else f'off (set {TOKEN_ENV})'}; Ctrl-C stops",
            highlight=False,
            soft_wrap=True,
        )

    serve_forever(server.app, sock, ready)
    logged = f", {prediction_log.written} logged to {log_dir}" if prediction_log else ""
    err_console.print(
        f"stopped: {server.served} frames served{logged}", highlight=False, soft_wrap=True
    )


@app.command("replay")
def replay_command(
    url: Annotated[str, typer.Argument(help="The server, http://HOST:PORT.")],
    ref: Annotated[
        str | None, typer.Option("--dataset", "-d", help="NAME or NAME@VERSION (default: head).")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only frames from this site.")] = None,
    recording: Annotated[str | None, typer.Option(help="Only frames of this recording id.")] = None,
    split: Annotated[str | None, typer.Option(help="Only frames of this split.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name on the server (default: registry.model).")
    ] = None,
    robot: Annotated[
        str | None, typer.Option(help="Robot name sent with each request (logged).")
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Send a dataset version's frames, in recording order, to a server one request per frame.

    Prints how many frames were sent, the accuracy on the labelled ones and the latency seen by
    the client: a shadow test of a server, or a way to fill its prediction log.
    """
    from robotops.serve.replay import replay, select_frames

    cfg, st = setup(config, store)
    frames = select_frames(
        st.snapshot(ref or cfg.dataset), site=site, recording=recording, split=split
    )
    with frame_progress(err_console, "replaying", len(frames), transient=True) as advance:
        result = replay(frames, url, model or cfg.registry.model, robot=robot, on_frame=advance)
    console.print(result.summary(), highlight=False)
