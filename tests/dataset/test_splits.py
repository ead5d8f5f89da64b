"""Splits by recording or site: groups kept whole, deterministic, held-out sites, one version."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pytest

from robotops import ConflictError, UsageError
from robotops.config import Config
from robotops.dataset.labels import import_labels
from robotops.dataset.schema import FRAME_SCHEMA, LABEL_SCHEMA, frame_id
from robotops.dataset.splits import SplitBy, split_dataset
from robotops.dataset.store import Store
from robotops.ingest.ingest import ingest

CLASSES = ("glass_door", "wooden_door", "no_door")

# 20 recordings at four sites, 3 to 11 frames each; two recordings have no site.
RECORDINGS = {
    f"{site or 'nosite'}-{i}": (site, 3 + (7 * i + len(site or "")) % 9)
    for site, count in (("atrium", 6), ("lab", 5), ("canteen", 4), ("library", 3), (None, 2))
    for i in range(count)
}


def commit_recordings(
    store: Store, recordings: dict[str, tuple[str | None, int]], name: str = "doors"
) -> None:
    """Commit frame rows (no sensor bytes) for ``recording_id -> (site, frames)``."""
    rows = [
        {"frame_id": frame_id(rec, t), "recording_id": rec, "site": site, "stamp_ns": t}
        for rec, (site, n) in recordings.items()
        for t in range(1_000, 1_000 + n)
    ]
    table = pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)
    store.commit(name, kind="ingest", message="test frames", frames=table, classes=CLASSES)


def split_of(store: Store, ref: str = "doors") -> dict[str, set[str]]:
    """Recording id -> the splits its frames are in."""
    found: dict[str, set[str]] = defaultdict(set)
    for row in store.snapshot(ref).index().to_pylist():
        found[row["recording_id"]].add(row["split"])
    return dict(found)


@pytest.fixture
def many(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    commit_recordings(store, RECORDINGS)
    return store


def test_recordings_are_never_split_and_frame_shares_follow_the_fractions(many: Store) -> None:
    result = split_dataset(many, "doors", fractions=(0.6, 0.2, 0.2), seed=3)
    assert result.new_version and result.snapshot.version == 2
    assert result.snapshot.commit.kind == "split" and result.by is SplitBy.RECORDING
    assert "split by recording train/val/test 0.6/0.2/0.2, seed 3" in result.snapshot.commit.message
    splits = split_of(many)
    assert all(len(s) == 1 for s in splits.values())  # no recording straddles two splits
    assert None not in set().union(*splits.values())  # every frame has a split
    total = sum(n for _, n in RECORDINGS.values())
    assert sum(c.frames for c in result.counts.values()) == total
    assert sum(c.groups for c in result.counts.values()) == len(RECORDINGS)
    for name, share in zip(("train", "val", "test"), (0.6, 0.2, 0.2), strict=True):
        # Within one recording's worth of frames of the asked share.
        assert abs(result.counts[name].frames - share * total) <= 11
        assert set(result.groups[name]) == {r for r, s in splits.items() if s == {name}}


def test_ingested_recordings_each_get_one_split(small_recordings: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    ingest(sorted(p for p in small_recordings.iterdir() if p.is_dir()), store, "doors", Config())
    import_labels(store, "doors", sorted(small_recordings.glob("*.labels.json")))
    labels_before = store.snapshot("doors").labels()
    result = split_dataset(store, "doors")
    splits = split_of(store)
    assert len(splits) == 3 and all(len(s) == 1 for s in splits.values())
    # Three recordings, three non-zero fractions: one recording each.
    assert set().union(*splits.values()) == {"train", "val", "test"}
    assert {n: c.groups for n, c in result.counts.items()} == {"train": 1, "val": 1, "test": 1}
    assert result.snapshot.labels().equals(labels_before)  # labels untouched


def test_same_seed_same_split_whatever_the_ingest_order(many: Store, tmp_path: Path) -> None:
    split_dataset(many, "doors", seed=7)
    reverse = Store(tmp_path / "reverse")
    commit_recordings(reverse, dict(reversed(list(RECORDINGS.items()))))
    split_dataset(reverse, "doors", seed=7)
    assert split_of(reverse) == split_of(many)
    other = Store(tmp_path / "other")
    commit_recordings(other, RECORDINGS)
    split_dataset(other, "doors", seed=8)
    assert split_of(other) != split_of(many)


def test_identical_resplit_makes_no_version_and_a_new_seed_does(many: Store) -> None:
    first = split_dataset(many, "doors", seed=1)
    again = split_dataset(many, "doors", seed=1, message="same again")
    assert not again.new_version and again.snapshot.version == first.snapshot.version
    assert again.counts == first.counts
    changed = split_dataset(many, "doors", seed=2)
    assert changed.new_version and changed.snapshot.version == first.snapshot.version + 1
    assert [c.kind for c in many.log("doors")] == ["ingest", "split", "split"]


def test_by_site_keeps_sites_whole_and_groups_siteless_frames_by_recording(many: Store) -> None:
    result = split_dataset(many, "doors", by="site", fractions=(0.5, 0.25, 0.25), seed=0)
    by_site: dict[str, set[str]] = defaultdict(set)
    for row in many.snapshot("doors").index().to_pylist():
        by_site[row["site"] or row["recording_id"]].add(row["split"])
    assert all(len(s) == 1 for s in by_site.values())
    groups = sorted(g for names in result.groups.values() for g in names)
    assert groups == [
        "atrium",
        "canteen",
        "lab",
        "library",
        "nosite-0 (no site)",
        "nosite-1 (no site)",
    ]
    assert all(result.counts[s].groups >= 1 for s in ("train", "val", "test"))


@pytest.mark.parametrize("by", ["recording", "site"])
def test_held_out_sites_are_all_test_and_nowhere_else(many: Store, by: str) -> None:
    result = split_dataset(many, "doors", by=by, holdout_sites=["lab", "library"], seed=4)
    rows = many.snapshot("doors").index().to_pylist()
    held = [r for r in rows if r["site"] in ("lab", "library")]
    rest = [r for r in rows if r["site"] not in ("lab", "library")]
    assert held and all(r["split"] == "test" for r in held)
    # The rest are split by the fractions as asked: test gets some of them too.
    assert {r["split"] for r in rest} == {"train", "val", "test"}
    assert "held-out sites: lab, library" in result.snapshot.commit.message
    # With a zero test fraction the held-out sites are the whole test split.
    split_dataset(many, "doors", by=by, fractions=(0.8, 0.2, 0), holdout_sites=["lab"])
    rows = many.snapshot("doors").index().to_pylist()
    assert {r["site"] for r in rows if r["split"] == "test"} == {"lab"}
    assert all(r["split"] == "test" for r in rows if r["site"] == "lab")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fractions": (0.7, 0.2, 0.2)}, "must sum to 1"),
        ({"fractions": (1.2, -0.1, -0.1)}, "non-negative"),
        ({"fractions": (0.5, 0.5)}, "three numbers"),
        ({"fractions": (float("nan"), 0.5, 0.5)}, "non-negative"),
        ({"by": "frame"}, "cannot split by 'frame': expected one of recording, site"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        (
            {"holdout_sites": ["lab", "mars"]},
            r"held-out site\(s\) mars not in the dataset "
            r"\(its sites: atrium, canteen, lab, library\)",
        ),
        (
            {"holdout_sites": ["atrium", "lab", "canteen", "library"], "by": "site"},
            r"cannot split 2 site\(s\) outside the held-out sites into 3 non-empty splits",
        ),
    ],
)
def test_bad_arguments_are_refused_and_write_nothing(
    many: Store, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        split_dataset(many, "doors", **kwargs)  # type: ignore[arg-type]
    assert len(many.log("doors")) == 1


def test_too_few_groups_for_the_splits(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    commit_recordings(store, {"a": ("atrium", 5), "b": ("atrium", 5)})
    with pytest.raises(UsageError, match=r"cannot split 2 recording\(s\) into 3 non-empty splits"):
        split_dataset(store, "doors")
    result = split_dataset(store, "doors", fractions=(0.5, 0.5, 0.0))
    assert {n: c.groups for n, c in result.counts.items()} == {"train": 1, "val": 1, "test": 0}
    with pytest.raises(UsageError, match=r"cannot split 1 site\(s\) into 3"):
        split_dataset(store, "doors", by="site")


def test_only_the_head_is_split(many: Store) -> None:
    split_dataset(many, "doors", seed=0)
    many.tag("doors@2", "split-0")
    with pytest.raises(
        ConflictError, match=r"doors@1 is not the head of doors \(the head is doors@2\)"
    ):
        split_dataset(many, "doors@1", seed=1)
    assert split_dataset(many, "doors@split-0", seed=1).snapshot.version == 3


def test_a_dataset_without_frames_has_nothing_to_split(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    label = {"frame_id": "f", "label": "no_door", "review_status": "unreviewed"}
    labels = pa.Table.from_pylist([label], schema=LABEL_SCHEMA)
    store.commit("doors", kind="labels", message="labels only", labels=labels, classes=CLASSES)
    with pytest.raises(UsageError, match="doors@1 has no frames to split"):
        split_dataset(store, "doors")


def test_labelled_groups_are_stratified_so_every_split_gets_every_class(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    # Twelve recordings of six frames, four per class; val and test get three recordings each.
    recordings = {f"rec-{i:02d}": ("atrium", 6) for i in range(12)}
    commit_recordings(store, recordings)
    label_of = {rec: CLASSES[i % 3] for i, rec in enumerate(sorted(recordings))}
    rows = [
        {"frame_id": r["frame_id"], "label": label_of[r["recording_id"]], "review_status": "ok"}
        for r in store.snapshot("doors").index().to_pylist()
    ]
    store.commit("doors", kind="labels", message="labels",
                 labels=pa.Table.from_pylist(rows, schema=LABEL_SCHEMA))  # fmt: skip
    for seed in range(5):
        split_dataset(store, "doors", fractions=(0.5, 0.25, 0.25), seed=seed)
        classes: dict[str, set[str]] = defaultdict(set)
        for row in store.snapshot("doors").index().to_pylist():
            classes[row["split"]].add(row["label"])
        assert classes["train"] == set(CLASSES), seed
        # Without stratification, three random recordings often miss a class.
        assert classes["val"] == classes["test"] == set(CLASSES), seed
