from __future__ import annotations

from pathlib import Path

import pytest

from robotops.sim import SimConfig, simulate


@pytest.fixture(scope="session")
def small_recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny MCAP recordings (one per class) at one site, shared by read-only tests."""
    out = tmp_path_factory.mktemp("sim") / "recordings"
    simulate(SimConfig(out_dir=out, sites=("atrium",), recordings=3, frames=6, width=64, height=48))
    return out
