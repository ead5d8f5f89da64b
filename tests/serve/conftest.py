"""A served bundle on a real uvicorn server on 127.0.0.1, shared by the serving tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from robotops.serve.app import InferenceServer, ServeOptions, load_model
from robotops.serve.predlog import PredictionLog
from robotops.serve.server import background
from tests.export.synthetic import frame_arrays

TOKEN = "test-admin-token-0123456789"
MODEL = "door-classifier"


@dataclass
class Running:
    """A running server: its URL, application state and log folder."""

    url: str
    server: InferenceServer
    log_dir: Path

    @property
    def address(self) -> str:
        """host:port, as tritonclient wants it."""
        return self.url.removeprefix("http://")


def start(bundle: Path, log_dir: Path, **options: object) -> tuple[InferenceServer, PredictionLog]:
    opts = ServeOptions(admin_token=TOKEN, **options)  # type: ignore[arg-type]
    log = PredictionLog(log_dir, sample_rate=0.5, flush_seconds=0.1)
    return InferenceServer(load_model(bundle, None, opts), opts, log), log


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, exported) -> Iterator[Running]:
    """The session's bundle served with a small request limit, a log and an admin token."""
    log_dir = tmp_path_factory.mktemp("serve") / "predictions"
    server, _ = start(exported.path, log_dir, max_request_bytes=1 << 20, max_batch=8)
    with background(server.app) as url:
        yield Running(url, server, log_dir)


@pytest.fixture(scope="session")
def second_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another bundle of the same model, registry version 4 (for reloads)."""
    from robotops.export import export_bundle
    from tests.export.synthetic import write_checkpoint

    folder = tmp_path_factory.mktemp("bundle4")
    ckpt = write_checkpoint(folder / "v4.safetensors", seed=4)
    return export_bundle(
        ckpt,
        folder / "bundle",
        frame_arrays(8, seed=1),
        calibration=None,
        int8=False,
        name=MODEL,
        version="4",
        metrics={},
        held_out_ref="doors@3:test",
    ).path
