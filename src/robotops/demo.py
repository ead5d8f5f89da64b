"""``robotops demo``: the whole loop on embedded defaults, in a fresh workspace.

Each stage of the loop adds its step here as it arrives. Today: simulate recordings from several
office sites, one of them unseen, ingest them into a versioned dataset, import their labels as the
next version, split by recording with the unseen site held out as test only, validate the split
dataset, and train a small fusion model on it, tracked in the workspace's MLflow store. The
workspace is laid out like a user's: ``cd`` into it and ``robotops train`` runs its params.yaml.
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
from robotops.progress import TrainBars, frame_progress
from robotops.sim import SimConfig, SimulatedRecording, simulate
from robotops.train.params import PARAMS_FILE, load_params
from robotops.train.run import TrainResult, train
from robotops.validate import Validation, validate

MARKER = ".robotops-demo"
DEMO_SITES = ("atrium", "loft", "clinic", "unseen-1")
HELD_OUT = "unseen-1"
# A small fusion model: a minute of training on 2 cores.
DEMO_PARAMS = """\
train:
  dataset: {dataset}
  model: fusion
  seed: 0
  epochs: 8
  batch_size: 32
  lr: 0.003
  early_stopping: {{patience: 3}}
  hyper: {{width: 8, point_width: 16, hidden: 32}}
  preprocess: {{image_height: 48, image_width: 48, lidar_points: 256}}
  augment: {{flip_prob: 0.5, modality_drop_prob: 0.15, brightness: 0.1, lidar_dropout_prob: 0.1}}
"""


@dataclass(frozen=True)
class DemoReport:
    """What the demo made."""

    workspace: Path
    recordings: list[SimulatedRecording]
    ingested: IngestReport
    labelled: LabelImport
    split: SplitResult
    validation: Validation
    training: TrainResult


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
    # Five recordings a site: enough that validation gets a recording of every class.
    config = SimConfig(out_dir=workspace / "recordings", sites=DEMO_SITES, recordings=5, frames=24)
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

    console.rule("[bold]6. train a fusion model, tracked in MLflow")
    params_file = workspace / PARAMS_FILE
    params_file.write_text(DEMO_PARAMS.format(dataset=split.snapshot))
    with TrainBars(console) as bars:
        training = train(load_params(params_file), store, workspace, progress=bars)
    return DemoReport(workspace, recordings, ingested, labelled, split, validation, training)
