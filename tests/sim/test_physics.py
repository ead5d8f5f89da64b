"""The scene's physics: range sensors tell glass from wood where colour alone cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotops.sim import DoorClass, RecordingSpec, get_site, write_recording
from robotops.sim.annotations import LabelFaults, annotation_document, write_json_atomic
from robotops.sim.bag_writer import BagFormat
from tests.sim.physics import DoorStats, best_threshold_accuracy, door_stats

SITES = ("atrium", "loft", "clinic", "campus", "studio", "unseen-3")
LIGHTING = ("day", "dim", "night")


def record(tmp: Path, door_class: DoorClass, variant: str) -> list[DoorStats]:
    stats: list[DoorStats] = []
    for i, site in enumerate(SITES):
        spec = RecordingSpec(
            site=get_site(site),
            index=i,
            door_class=door_class,
            seed=11,
            frames=8,
            width=128,
            height=96,
            variant=variant,
            lighting=LIGHTING[i % 3],
        )
        bag = tmp / f"{variant}-{i}"
        scenario, truths = write_recording(spec, bag, BagFormat.MCAP)
        labels = tmp / f"{variant}-{i}.labels.json"
        write_json_atomic(
            labels, annotation_document(spec, scenario, truths, bag.name, False, LabelFaults())
        )
        stats += door_stats(bag, labels)
    assert len(stats) >= 30
    return stats


def colour_features(stats: list[DoorStats]) -> dict[str, np.ndarray]:
    rgb = np.array([s.mean_rgb for s in stats])
    total = rgb.sum(axis=1)
    return {
        "red": rgb[:, 0],
        "green": rgb[:, 1],
        "blue": rgb[:, 2],
        "brightness": total / 3,
        "red share": rgb[:, 0] / total,
        "blue share": rgb[:, 2] / total,
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("glass", "wood", "colour_ceiling"),
    [("dark_tint", "dark", 0.8), ("frosted", "light", 0.92)],
)
def test_range_sensors_separate_glass_from_wood_where_colour_does_not(
    tmp_path: Path, glass: str, wood: str, colour_ceiling: float
) -> None:
    g = record(tmp_path, DoorClass.GLASS, glass)
    w = record(tmp_path, DoorClass.WOOD, wood)

    # Depth reads through glass and lands on wood; LiDAR returns from wood, rarely from glass.
    assert max(s.depth_on_door for s in g) < 0.35 < 0.9 < min(s.depth_on_door for s in w)
    assert max(s.lidar_on_door for s in g) < 0.6 < 0.9 < min(s.lidar_on_door for s in w)

    # No simple colour statistic of the door region tells these two apart reliably.
    for name, (a, b) in {
        k: (colour_features(g)[k], colour_features(w)[k]) for k in colour_features(g)
    }.items():
        assert best_threshold_accuracy(a, b) < colour_ceiling, name
