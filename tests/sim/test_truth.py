"""Ground truth: deterministic per seed, faults injected on request without touching sensor data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from robotops import UsageError
from robotops.sim import CLASSES, LabelFaults, SimConfig, get_site, simulate


def raw_messages(bag: Path) -> list[tuple[str, int, bytes]]:
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        return [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]


def run(out: Path, **kwargs: object) -> list:
    defaults = {"recordings": 2, "frames": 5, "width": 48, "height": 32}
    return simulate(SimConfig(out_dir=out, **(defaults | kwargs)))


def test_same_seed_same_recordings_other_seed_other_recordings(tmp_path: Path) -> None:
    a, b, c = run(tmp_path / "a"), run(tmp_path / "b"), run(tmp_path / "c", seed=1)
    for ra, rb in zip(a, b, strict=True):
        assert raw_messages(ra.bag) == raw_messages(rb.bag)
        assert json.loads(ra.labels.read_text()) == json.loads(rb.labels.read_text())
    assert raw_messages(a[0].bag) != raw_messages(c[0].bag)


def test_label_faults_change_labels_but_not_sensor_data(tmp_path: Path) -> None:
    clean = run(tmp_path / "clean", recordings=3, frames=40)
    faulty = run(
        tmp_path / "faulty", recordings=3, frames=40, faults=LabelFaults(noise=0.3, missing=0.2)
    )
    frames = wrong = missing = 0
    for rc, rf in zip(clean, faulty, strict=True):
        assert raw_messages(rc.bag) == raw_messages(rf.bag)
        doc = json.loads(rf.labels.read_text())
        for frame in doc["frames"]:
            frames += 1
            missing += frame["label"] is None
            wrong += frame["label"] is not None and frame["label"] != frame["true_class"]
            assert frame["label"] is None or frame["label"] in CLASSES
    # 120 frames: binomial counts well inside these bounds for p = 0.2 and 0.3.
    assert 0.08 < missing / frames < 0.35
    assert 0.15 < wrong / frames < 0.45


def test_sites_named_and_unseen() -> None:
    assert get_site("unseen-7") == get_site("unseen-7")
    assert get_site("unseen-7") != get_site("unseen-8")
    assert get_site("unseen-7").name == "unseen-7"
    with pytest.raises(UsageError, match="unknown site 'mars'"):
        get_site("mars")


def test_unseen_sites_look_different_from_named_ones(tmp_path: Path) -> None:
    named = json.loads(run(tmp_path / "n", sites=("atrium",))[0].labels.read_text())
    unseen = json.loads(run(tmp_path / "u", sites=("unseen-3",))[0].labels.read_text())
    assert named["tags"]["site"] == "atrium" and unseen["tags"]["site"] == "unseen-3"
    assert get_site("unseen-3").wall_rgb != get_site("atrium").wall_rgb


def test_forced_lighting_applies_to_every_recording(tmp_path: Path) -> None:
    recordings = simulate(
        SimConfig(out_dir=tmp_path, sites=("atrium", "unseen-5"), recordings=3, frames=2,
                  width=32, height=24, lighting="night")
    )  # fmt: skip
    assert {r.lighting for r in recordings} == {"night"}
    assert all(json.loads(r.labels.read_text())["tags"]["lighting"] == "night" for r in recordings)
    with pytest.raises(UsageError, match="unknown lighting 'dusk'"):
        simulate(SimConfig(out_dir=tmp_path / "x", lighting="dusk"))
    assert not (tmp_path / "x").exists()
