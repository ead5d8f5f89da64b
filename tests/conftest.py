from __future__ import annotations

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


@pytest.fixture(scope="session")
def split_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    """Two sites, one recording per class each, split by recording into train and val.

    Read-only for tests: returns the store and the split version's reference.
    """
    root = tmp_path_factory.mktemp("trainset")
    recordings = simulate(
        SimConfig(
            out_dir=root / "recordings",
            sites=("atrium", "loft"),
            recordings=3,
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
