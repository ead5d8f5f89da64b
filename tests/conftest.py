from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from robotops.config import Config
from robotops.dataset.labels import import_labels
from robotops.dataset.splits import split_dataset
from robotops.dataset.store import Store
from robotops.ingest.ingest import ingest
from robotops.sim import SimConfig, simulate


@pytest.fixture(scope="session")
def small_recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny MCAP recordings (one per class) at one site, shared by read-only tests."""
    out = tmp_path_factory.mktemp("sim") / "recordings"
    simulate(SimConfig(out_dir=out, sites=("atrium",), recordings=3, frames=6, width=64, height=48))
    return out


def _labelled_split(root: Path, recordings_per_site: int) -> tuple[Store, str]:
    """Simulate two sites, ingest, label and split by recording into train and val (0.5/0.5)."""
    recordings = simulate(
        SimConfig(
            out_dir=root / "recordings",
            sites=("atrium", "loft"),
            recordings=recordings_per_site,
            frames=8,
            width=64,
            height=48,
        )
    )
    store = Store(root / "datasets")
    ingest([r.bag for r in recordings], store, "doors", Config())
    import_labels(store, "doors", [r.labels for r in recordings])
    result = split_dataset(store, "doors", fractions=(0.5, 0.5, 0.0), seed=0)
    return store, str(result.snapshot)


@pytest.fixture(scope="session")
def split_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    """Two sites, one recording per class each, split by recording into train and val.

    Read-only for tests: returns the store and the split version's reference.
    """
    return _labelled_split(tmp_path_factory.mktemp("trainset"), recordings_per_site=3)


@pytest.fixture(scope="session")
def gate_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    """Two sites, two recordings per class each, split by recording into train and val: enough
    for a tiny model to learn (above 80% on val in 15 epochs). Read-only for tests."""
    return _labelled_split(tmp_path_factory.mktemp("gateset"), recordings_per_site=6)


# Judged on val (gate_store has no test split), by site only: a constant guess scores 100% on a
# lighting or variant slice that happens to hold one class. Thresholds suit tiny models.
MODELS_CONFIG = """\
store: {store}
evaluate: {{split: val, slices: [site]}}
behaviour:
  flip: {{min_agreement: 0.5}}
  brightness: {{min_agreement: 0.5, magnitude: 0.1}}
  noise: {{min_agreement: 0.5, magnitude: 0.02}}
  drop_lidar: {{min_accuracy: 0.2}}
  drop_depth: {{min_accuracy: 0.2}}
  slice_accuracy: {{min_accuracy: 0.2, min_frames: 8}}
gate: {{tolerance: 0.02, slice_tolerance: 0.1, min_slice_frames: 8, min_metric: 0.6}}
registry: {{model: {model}}}
"""


@dataclass(frozen=True)
class ModelPair:
    """A workspace with two finished training runs on ``gate_store``: a good and a bad model."""

    workspace: Path
    store: Store
    ref: str
    good: str
    bad: str

    def config(self, model: str) -> Path:
        """A robotops.yaml for tests whose registered model is ``model``."""
        path = self.workspace / f"{model}.yaml"
        path.write_text(MODELS_CONFIG.format(store=self.store.root, model=model))
        return path


@pytest.fixture(scope="session")
def model_pair(
    gate_store: tuple[Store, str], tmp_path_factory: pytest.TempPathFactory
) -> ModelPair:
    """Train the good model (15 epochs) and a deliberately bad one (1 epoch at lr 1e-6)."""
    from robotops.train.run import train  # torch and MLflow only for the tests that need them
    from tests.train.conftest import tiny_params

    store, ref = gate_store
    workspace = tmp_path_factory.mktemp("models")
    good = train(tiny_params(ref, epochs=15, early_stopping={"patience": 20}), store, workspace)
    bad = train(tiny_params(ref, epochs=1, lr=1e-6), store, workspace)
    return ModelPair(workspace, store, ref, good.run_id, bad.run_id)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fusion checkpoint (read-only)."""
    from tests.export.synthetic import write_checkpoint

    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.safetensors")


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path):  # -> ExportResult
    """One bundle with an int8 model, exported once for the session (read-only)."""
    from robotops.export import export_bundle
    from tests.export.synthetic import frame_arrays

    out = tmp_path_factory.mktemp("bundles") / "bundle"
    return export_bundle(
        checkpoint,
        out,
        frame_arrays(24, seed=1),
        calibration=frame_arrays(32, seed=2),
        name="door-classifier",
        version="3",
        metrics={"accuracy": 0.97},
        held_out_ref="doors@3:test",
        int8_tolerance=1.0,  # random labels: the accuracy change is noise; keep the model
    )


@pytest.fixture(scope="session")
def monitor_world(tmp_path_factory: pytest.TempPathFactory):  # -> tests.monitor.world.World
    """A day-lit reference doors@3, a bundle trained on it, day and night frames to log.

    Labelling tests add versions to its dataset; doors@3 itself never changes.
    """
    from tests.monitor.world import build_world

    return build_world(tmp_path_factory.mktemp("monitor"))


@pytest.fixture(scope="session")
def night_log(monitor_world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's log after night frames from an unseen office (read-only)."""
    from tests.monitor.world import serve_log

    folder = tmp_path_factory.mktemp("night") / "predictions"
    return serve_log(folder, monitor_world, monitor_world.night, site="unseen-1")


@pytest.fixture(scope="session")
def day_log(monitor_world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's log after new day-lit frames like the reference's (read-only)."""
    from tests.monitor.world import serve_log

    folder = tmp_path_factory.mktemp("day") / "predictions"
    return serve_log(folder, monitor_world, monitor_world.day, site="atrium")
