"""``robotops demo``: the whole loop on embedded defaults, in a fresh workspace.

Each stage of the loop adds its step here as it arrives. Today: simulate recordings from several
office sites, one of them unseen, ingest them into a versioned dataset, import their labels as the
next version, split by recording with the unseen site held out as test only, and validate the
split dataset.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from robotops.config import Config
from robotops.dataset.labels import LabelImport, import_labels
from robotops.dataset.splits import SplitResult, split_dataset
from robotops.dataset.store import Store
from robotops.errors import ConflictError
from robotops.ingest.ingest import IngestReport, ingest
from robotops.progress import frame_progress
from robotops.sim import SimConfig, SimulatedRecording, simulate
from robotops.validate import Validation, validate

MARKER = ".robotops-demo"
DEMO_SITES = ("atrium", "loft", "clinic", "unseen-1")
HELD_OUT = "unseen-1"


@dataclass(frozen=True)
class DemoReport:
    """What the demo made."""

    workspace: Path
    recordings: list[SimulatedRecording]
    ingested: IngestReport
    labelled: LabelImport
    split: SplitResult
    validation: Validation


def _fresh_workspace(workspace: Path) -> None:
    """Create ``workspace``, replacing an earlier demo's, never a folder the demo did not make."""
    if workspace.exists():
        if not (workspace / MARKER).exists() and any(workspace.iterdir()):
            raise ConflictError(
                f"{workspace} exists and was not made by robotops demo: choose another --workspace"
            )
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    (workspace / MARKER).write_text("made by robotops demo; replaced on the next run\n")


def run_demo(workspace: Path, console: Console) -> DemoReport:
    """Run the demo in ``workspace`` and return what it made."""
    _fresh_workspace(workspace)
    config = SimConfig(out_dir=workspace / "recordings", sites=DEMO_SITES, recordings=3, frames=24)
    console.rule("[bold]1. simulate recordings")
    with frame_progress(console, "simulating", len(config.specs()) * config.frames) as advance:
        recordings = simulate(config, on_frame=advance)

    console.rule("[bold]2. ingest into a versioned dataset")
    store = Store(workspace / "datasets")
    settings = Config()
    with frame_progress(console, "ingesting", len(recordings) * config.frames) as advance:
        ingested = ingest(
            [r.bag for r in recordings], store, settings.dataset, settings, on_frame=advance
        )

    console.rule("[bold]3. import labels")
    labelled = import_labels(store, settings.dataset, [r.labels for r in recordings])

    console.rule(f"[bold]4. split by recording, {HELD_OUT} held out")
    split = split_dataset(
        store, settings.dataset, fractions=(0.8, 0.2, 0.0), seed=0, holdout_sites=(HELD_OUT,)
    )

    console.rule("[bold]5. validate")
    with frame_progress(console, "validating", split.snapshot.frame_count()) as advance:
        validation = validate(store, str(split.snapshot), settings, on_frames=advance)
    return DemoReport(workspace, recordings, ingested, labelled, split, validation)
