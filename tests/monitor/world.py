"""A day-lit reference dataset, a bundle of a model trained on it, and frames to log against it.

The reference is ``doors@3``: day-lit recordings at the atrium, ingested in three batches, so
that it is the version the synthetic checkpoint names as its training data. Many short
recordings rather than a few long ones: neighbouring frames of a recording are near-duplicates,
and a comparison is only as good as the number of independent scenes on each side.

Two sets of frames to log: new day-lit atrium recordings (the reference's own distribution) and
night recordings at an office the model never saw. :func:`serve_log` feeds them to the real
server over HTTP; :func:`fill_log` writes a log directly with the real
:class:`~robotops.serve.predlog.PredictionLog`, for the cases a server cannot make on demand
(several bundles, chosen times).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robotops.config import Config, MonitorSettings
from robotops.dataset.frames import SENSOR_COLUMNS, decode_row
from robotops.dataset.store import Snapshot, Store
from robotops.ingest.ingest import ingest
from robotops.runtime import Frame, load_bundle
from robotops.runtime.manifest import MANIFEST, file_sha256
from robotops.serve.predlog import LogEntry, PredictionLog
from robotops.sim import SimConfig, simulate

REFERENCE = "doors@3"
SETTINGS = MonitorSettings(bins=5, min_rows=20)
"""Five PSI bins suit logs of a few dozen frames."""
CONFIG = "store: {store}\nmonitor: {{bins: 5, min_rows: 20}}\n"
T0_NS = 1_780_000_000_000_000_000
FRAME_NS = 66_666_667  # 15 Hz


def record(
    out: Path, site: str, recordings: int, frames: int, lighting: str, seed: int
) -> list[Path]:
    """Bags of ``recordings`` recordings at ``site`` with the lighting forced."""
    config = SimConfig(
        out_dir=out, sites=(site,), recordings=recordings, frames=frames, width=48, height=32,
        seed=seed, lighting=lighting,
    )  # fmt: skip
    return [r.bag for r in simulate(config)]


def frames_of(snapshot: Snapshot) -> list[Frame]:
    """Every frame of a dataset version as raw arrays, in storage order."""
    return [
        Frame(*decode_row(row))
        for batch in snapshot.scan_frames(SENSOR_COLUMNS)
        for row in batch.to_pylist()
    ]


@dataclass(frozen=True)
class World:
    """The reference store, the bundle, and the frames to log."""

    root: Path
    store: Store
    bundle: Path
    digest: str
    day: list[Frame]
    night: list[Frame]

    def config(self, folder: Path) -> Path:
        path = folder / "robotops.yaml"
        path.write_text(CONFIG.format(store=self.store.root))
        return path


def fill_log(
    folder: Path,
    world: World,
    frames: list[Frame],
    *,
    site: str,
    start_ns: int = T0_NS,
    bundle: Path | None = None,
    note: bool = True,
    low_confidence: float = 0.6,
) -> Path:
    """Log the bundle's predictions on ``frames`` as the server would: one request per frame.

    The untrained model is never confident (about 0.36 for three classes), so at the server's
    default threshold every input is kept; ``low_confidence=0`` keeps a seeded half instead.
    """
    bundle = bundle or world.bundle
    loaded = load_bundle(bundle)
    digest = file_sha256(bundle / MANIFEST)
    predictions = loaded.predict_frames(frames)
    with PredictionLog(
        folder, sample_rate=0.5, low_confidence=low_confidence, flush_seconds=0.05, seed=1
    ) as log:
        if note:
            log.note_bundle(
                digest,
                {
                    "path": str(bundle.resolve()),
                    "model": loaded.name,
                    "version": loaded.version,
                    "dataset": loaded.manifest["dataset"]["ref"],
                    "int8": False,
                },
            )
        log.submit(
            [
                LogEntry(
                    request_id=f"{site}-{start_ns}-{i}",
                    item=0,
                    time_ns=start_ns + i * FRAME_NS,
                    model=loaded.name or "model",
                    version=loaded.version,
                    bundle=digest,
                    label=p.label,
                    index=p.index,
                    confidence=p.confidence,
                    probabilities=p.probabilities,
                    latency_ms=2.0,
                    frame=frame,
                    robot="r2d2",
                    site=site,
                )
                for i, (frame, p) in enumerate(zip(frames, predictions, strict=True))
            ]
        )
    return folder


def serve_log(folder: Path, world: World, frames: list[Frame], *, site: str) -> Path:
    """Feed ``frames`` to the real server, one HTTP request per frame; its log goes to ``folder``.

    The server runs on 127.0.0.1 with the world's bundle; the log is flushed when it stops.
    """
    from robotops.serve.app import InferenceServer, ServeOptions, load_model
    from robotops.serve.client import InferenceClient
    from robotops.serve.server import background

    options = ServeOptions()
    log = PredictionLog(folder, sample_rate=0.5, flush_seconds=0.05, seed=1)
    server = InferenceServer(load_model(world.bundle, None, options), options, log)
    with background(server.app) as url, InferenceClient(url, server.model.name) as client:
        for frame in frames:
            client.infer([frame], {"site": site, "robot": "r2d2"})
    assert log.written == len(frames)
    return folder


def build_world(root: Path) -> World:
    """Reference doors@3 (72 day frames), a bundle of it, 40 day and 30 night frames to log."""
    from robotops.export import export_bundle
    from robotops.train.data import FrameArrays
    from robotops.transforms import preprocess_frame, stack_samples
    from tests.export.synthetic import SPEC, write_checkpoint

    store = Store(root / "datasets")
    bags = record(root / "reference", "atrium", 36, 2, "day", seed=0)
    for batch in (bags[:12], bags[12:24], bags[24:]):
        ingest(batch, store, "doors", Config())
    reference = store.snapshot(REFERENCE)
    scratch = Store(root / "scratch")
    ingest(record(root / "day", "atrium", 20, 2, "day", seed=1), scratch, "day", Config())
    ingest(record(root / "night", "unseen-1", 5, 6, "night", seed=0), scratch, "night", Config())

    frames = frames_of(reference)
    held_out = FrameArrays(
        stack_samples([preprocess_frame(*f, SPEC) for f in frames]),
        np.zeros(len(frames), np.int64),
        tuple(f"ref-{i}" for i in range(len(frames))),
        reference.classes,
        cached=False,
    )
    checkpoint = write_checkpoint(root / "best.safetensors", classes=reference.classes)
    result = export_bundle(
        checkpoint,
        root / "bundle",
        held_out,
        calibration=None,
        int8=False,
        name="door-classifier",
        version="7",
        metrics={},
        held_out_ref=None,
    )
    return World(
        root=root,
        store=store,
        bundle=result.path,
        digest=result.digest,
        day=frames_of(scratch.snapshot("day")),
        night=frames_of(scratch.snapshot("night")),
    )
