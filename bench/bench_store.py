"""Dataset store: committing 20,000 frames and relabelling 10% of them, against DVC.

Baseline, measured in the same run on the same frames: one file per frame tracked with
`dvc add`, the way such datasets are often versioned. For each step the time and the bytes
written (growth of the store or repository folder) are measured.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from robotops.dataset.schema import FRAME_SCHEMA, LABEL_SCHEMA, frame_id, tags_json
from robotops.dataset.store import Store

RECORDINGS = 20
FRAMES = 1_000  # per recording
SITES = ("atrium", "loft", "clinic", "campus")
CLASSES = ("glass_door", "wooden_door", "no_door")
WIDTH, HEIGHT = 64, 48
POINTS = 1_000
RELABEL_FRACTION = 0.1
RELABEL_ROUNDS = 3  # each a fresh random 10%; the median is reported
NEXT_CLASS = {c: CLASSES[(i + 1) % len(CLASSES)] for i, c in enumerate(CLASSES)}
DVC = Path(sys.executable).with_name("dvc")
MB = 1_000_000


@dataclass(frozen=True)
class Step:
    """Time and bytes of one measured step."""

    seconds: float
    bytes_written: int


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Path -> (size, mtime_ns) of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            st = os.stat(path)
            files[path] = (st.st_size, st.st_mtime_ns)
    return files


def _size(root: Path) -> int:
    return sum(size for size, _ in _tree(root).values())


def _changed_bytes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> int:
    """Bytes of files that are new or modified in ``after``."""
    return sum(size for path, (size, mtime) in after.items() if before.get(path) != (size, mtime))


def _measure(root: Path, work: Callable[[], object]) -> Step:
    """Time ``work`` and the growth of ``root`` it causes."""
    before = _size(root)
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    return Step(seconds, _size(root) - before)


def _binary(chunks: np.ndarray) -> pa.Array:
    """A large_binary array over the rows of a 2-D uint8 array, without copying."""
    rows, width = chunks.shape
    offsets = np.arange(rows + 1, dtype=np.int64) * width
    return pa.Array.from_buffers(
        pa.large_binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(chunks)]
    )


def _pngs(rng: np.random.Generator, n: int) -> list[bytes]:
    """``n`` distinct noisy colour images, PNG-encoded as ingest does (compress level 1)."""
    base = (np.indices((HEIGHT, WIDTH)).sum(axis=0) * 2 % 256).astype(np.uint8)
    smooth = np.stack([base, base[::-1], base[:, ::-1]], axis=-1) // 2
    images = []
    for start in range(0, n, 1_000):
        noise = rng.integers(0, 48, (min(1_000, n - start), HEIGHT, WIDTH, 3), dtype=np.uint8)
        for frame_noise in noise:
            buffer = io.BytesIO()
            Image.fromarray(smooth + frame_noise).save(buffer, format="PNG", compress_level=1)
            images.append(buffer.getvalue())
    return images


def make_frames(seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """20,000 synthetic frame rows (FRAME_SCHEMA) and a label row for each (LABEL_SCHEMA).

    Every frame's colour, depth and LiDAR bytes are distinct (random noise), so nothing can be
    deduplicated: Lance stores repeated binary values once, which reused images would flatter.
    """
    rng = np.random.default_rng(seed)
    n = RECORDINGS * FRAMES
    recordings = [f"bench-{SITES[r % len(SITES)]}-{r:03d}" for r in range(RECORDINGS)]
    stamps = (1_700_000_000_000_000_000 + np.arange(FRAMES, dtype=np.int64) * 66_666_667).tolist()
    ids, recs, sites = [], [], []
    for r, rec in enumerate(recordings):
        for stamp in stamps:
            ids.append(frame_id(rec, stamp))
            recs.append(rec)
            sites.append(SITES[r % len(SITES)])
    stamp_col = pa.array(stamps * RECORDINGS, pa.int64())
    pngs = _pngs(rng, n)
    depth = rng.integers(300, 8000, (n, HEIGHT * WIDTH), dtype=np.uint16).astype("<u2")
    lidar = rng.normal(0.0, 5.0, (n, POINTS * 3)).astype("<f4")

    def const(value: object, kind: pa.DataType) -> pa.Array:
        return pa.array([value] * n, kind)

    columns = {
        "frame_id": pa.array(ids, pa.string()),
        "recording_id": pa.array(recs, pa.string()),
        "site": pa.array(sites, pa.string()),
        "robot": const("bench-bot", pa.string()),
        "stamp_ns": stamp_col,
        "source": pa.array([f"/bags/{rec}" for rec in recs], pa.string()),
        "rgb": pa.array(pngs, pa.large_binary()),
        "rgb_format": const("png", pa.string()),
        "rgb_stamp_ns": stamp_col,
        "width": const(WIDTH, pa.int32()),
        "height": const(HEIGHT, pa.int32()),
        "depth_mm": _binary(depth.view(np.uint8)),
        "depth_width": const(WIDTH, pa.int32()),
        "depth_height": const(HEIGHT, pa.int32()),
        "depth_stamp_ns": stamp_col,
        "lidar_xyz": _binary(lidar.view(np.uint8)),
        "lidar_points": const(POINTS, pa.int32()),
        "lidar_stamp_ns": stamp_col,
        "fx": const(60.0, pa.float64()),
        "fy": const(60.0, pa.float64()),
        "cx": const(WIDTH / 2, pa.float64()),
        "cy": const(HEIGHT / 2, pa.float64()),
        "tags": const(tags_json({"lighting": "day"}), pa.string()),
    }
    frames = pa.table(columns, schema=FRAME_SCHEMA)
    labels = pa.table(
        {
            "frame_id": frames.column("frame_id"),
            "label": pa.array([CLASSES[i // FRAMES % len(CLASSES)] for i in range(n)]),
            "box": pa.array([[8, 6, 40, 36]] * n, pa.list_(pa.int32(), 4)),
            "annotator": const("bench", pa.string()),
            "reviewer": const(None, pa.string()),
            "review_status": const("unreviewed", pa.string()),
            "labelled_at_ns": const(1_700_000_000_000_000_000, pa.int64()),
        },
        schema=LABEL_SCHEMA,
    )
    return frames, labels


def relabel_rounds(labels: pa.Table) -> list[pa.Table]:
    """For each round, label rows of a fresh random 10% of frames, each moved to the next class.

    Rounds apply one after another: each moves the labels as the previous round left them.
    """
    rng = np.random.default_rng(1)
    current = dict(zip(labels["frame_id"].to_pylist(), labels["label"].to_pylist(), strict=True))
    rounds = []
    for k in range(RELABEL_ROUNDS):
        pick = rng.choice(labels.num_rows, int(labels.num_rows * RELABEL_FRACTION), False)
        rows = labels.take(pa.array(np.sort(pick)))
        moved = [NEXT_CLASS[current[fid]] for fid in rows["frame_id"].to_pylist()]
        current.update(zip(rows["frame_id"].to_pylist(), moved, strict=True))
        rows = rows.set_column(rows.schema.get_field_index("label"), "label", pa.array(moved))
        stamp = pa.array([1_700_000_001_000_000_000 + k] * rows.num_rows, pa.int64())
        rounds.append(
            rows.set_column(rows.schema.get_field_index("labelled_at_ns"), "labelled_at_ns", stamp)
        )
    return rounds


def _median(steps: list[Step]) -> Step:
    return Step(
        statistics.median(s.seconds for s in steps),
        int(statistics.median(s.bytes_written for s in steps)),
    )


# Lance ---------------------------------------------------------------------------------------


def lance_steps(
    root: Path, frames: pa.Table, labels: pa.Table, rounds: list[pa.Table]
) -> dict[str, Any]:
    """Commit frames, then all labels, then each relabel round; time and bytes of each."""
    store = Store(root)
    ingest = _measure(
        root,
        lambda: store.commit(
            "doors", kind="ingest", message="bench frames", frames=frames, classes=CLASSES
        ),
    )
    label = _measure(
        root, lambda: store.commit("doors", kind="labels", message="bench labels", labels=labels)
    )
    frames_dir = root / "doors" / "frames.lance"
    frames_before = _tree(frames_dir)
    relabels = [
        _measure(
            root,
            lambda changed=changed: store.commit(
                "doors", kind="labels", message="relabel 10%", labels=changed
            ),
        )
        for changed in rounds
    ]
    head = store.snapshot("doors")
    stored = head.labels().select(["frame_id", "label"]).to_pydict()
    want = dict(zip(labels["frame_id"].to_pylist(), labels["label"].to_pylist(), strict=True))
    for changed in rounds:
        want.update(zip(changed["frame_id"].to_pylist(), changed["label"].to_pylist(), strict=True))
    got = dict(zip(stored["frame_id"], stored["label"], strict=True))
    if got != want or head.version != 2 + len(rounds):
        raise RuntimeError("the relabels did not land as one new version each")
    return {
        "ingest": ingest,
        "labels": label,
        "relabel": _median(relabels),
        "frames_changed": _changed_bytes(frames_before, _tree(frames_dir)),
    }


# DVC -----------------------------------------------------------------------------------------


def _dvc(repo: Path, *args: str) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([str(DVC), *args], cwd=repo, env=env, check=True, capture_output=True)


def _label_doc(row: dict[str, Any]) -> bytes:
    return json.dumps(row, separators=(",", ":"), sort_keys=True).encode()


def write_frame_files(folder: Path, frames: pa.Table, labels: pa.Table) -> None:
    """One folder per recording; per frame ``<frame_id>.npz`` (sensors) and ``.json`` (label)."""
    meta = frames.drop_columns(["rgb", "depth_mm", "lidar_xyz"]).to_pylist()
    by_id = {row["frame_id"]: row for row in labels.to_pylist()}
    rgb, depth, lidar = (
        frames.column(c).combine_chunks() for c in ("rgb", "depth_mm", "lidar_xyz")
    )
    for i, row in enumerate(meta):
        out = folder / row["recording_id"]
        out.mkdir(parents=True, exist_ok=True)
        np.savez(
            out / f"{row['frame_id']}.npz",
            rgb_png=np.frombuffer(rgb[i].as_py(), np.uint8),
            depth_mm=np.frombuffer(depth[i].as_py(), "<u2").reshape(HEIGHT, WIDTH),
            lidar_xyz=np.frombuffer(lidar[i].as_py(), "<f4").reshape(-1, 3),
            meta=np.frombuffer(_label_doc(row), np.uint8),
        )
        (out / f"{row['frame_id']}.json").write_bytes(_label_doc(by_id[row["frame_id"]]))


def _reflink_works(folder: Path) -> bool:
    probe = folder / ".reflink-probe"
    probe.write_bytes(b"x")
    try:
        done = subprocess.run(
            ["cp", "--reflink=always", str(probe), str(probe) + "2"], capture_output=True
        )
        return done.returncode == 0
    finally:
        probe.unlink()
        Path(str(probe) + "2").unlink(missing_ok=True)


def dvc_steps(
    repo: Path, frames: pa.Table, labels: pa.Table, rounds: list[pa.Table]
) -> dict[str, Any]:
    """Write the frames as files and `dvc add` them; per round rewrite label files, add again."""
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _dvc(repo, "init", "-q")
    _dvc(repo, "config", "core.analytics", "false")
    _dvc(repo, "config", "core.check_update", "false")
    # DVC keeps its state database in a site cache outside the repository by default; keep it
    # inside so that its bytes are counted and the temporary folder removes it.
    _dvc(repo, "config", "--local", "core.site_cache_dir", str(repo / ".dvc" / "site"))
    startup = _measure(repo, lambda: _dvc(repo, "config", "core.check_update"))
    data = repo / "frames"
    write = _measure(repo, lambda: write_frame_files(data, frames, labels))
    add = _measure(repo, lambda: _dvc(repo, "add", "frames"))

    recording_of = dict(
        zip(frames["frame_id"].to_pylist(), frames["recording_id"].to_pylist(), strict=True)
    )

    def rewrite_labels(changed: pa.Table) -> None:
        for row in changed.to_pylist():
            path = data / recording_of[row["frame_id"]] / f"{row['frame_id']}.json"
            path.write_bytes(_label_doc(row))

    rewrites, readds = [], []
    for changed in rounds:
        rewrites.append(_measure(repo, lambda changed=changed: rewrite_labels(changed)))
        readds.append(_measure(repo, lambda: _dvc(repo, "add", "frames")))
    return {
        "startup": startup,
        "write": write,
        "add": add,
        "rewrite": _median(rewrites),
        "readd": _median(readds),
        "files": sum(1 for p in data.rglob("*") if p.is_file()),
        "reflink": _reflink_works(repo),
    }


# Report --------------------------------------------------------------------------------------


def run() -> str:
    """Measure and return the Markdown section."""
    start = time.perf_counter()
    frames, labels = make_frames()
    rounds = relabel_rounds(labels)
    make_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lance = lance_steps(tmp / "store", frames, labels, rounds)
        shutil.rmtree(tmp / "store")
        dvc = dvc_steps(tmp / "repo", frames, labels, rounds)

    n = frames.num_rows
    first = Step(
        lance["ingest"].seconds + lance["labels"].seconds,
        lance["ingest"].bytes_written + lance["labels"].bytes_written,
    )
    write = dvc["write"]
    cache = "reflinks" if dvc["reflink"] else "copies (this file system has no reflinks)"

    def cells(step: Step) -> str:
        return f"{step.seconds:.2f} | {step.bytes_written / MB:.1f}"

    def ratio(d: Step, lc: Step) -> str:
        bytes_x = d.bytes_written / lc.bytes_written if lc.bytes_written else float("inf")
        return f"{d.seconds / lc.seconds:.1f}x | {bytes_x:.1f}x"

    return "\n".join(
        [
            "## Dataset store: commit and relabel (`robotops dataset`)",
            "",
            f"{n:,} synthetic frames ({RECORDINGS} recordings x {FRAMES:,}, {len(SITES)} sites):",
            f"{WIDTH}x{HEIGHT} PNG colour, {WIDTH}x{HEIGHT} uint16 depth, {POINTS:,}-point float32",
            f"LiDAR; {frames.nbytes / MB:.0f} MB as Arrow, made in {make_s:.1f} s. Colour, depth",
            "and LiDAR are noise, distinct in every frame, so neither side can deduplicate or",
            "compress much (Lance stores repeated binary values once: reused images would flatter",
            "it). Bytes written = growth of the store or repository folder (sum of file sizes).",
            f"Relabel: {RELABEL_ROUNDS} rounds, each moving a fresh random 10% of frames to",
            "another class; the median round is shown. The other steps run once.",
            "",
            "Lance: `Store.commit` of the frames (version 1), of a label for every frame",
            "(version 2), then of the new labels of each relabel round (one version each).",
            "",
            f"DVC {_dvc_version()}: a fresh `git init` + `dvc init` repository with default",
            f"settings (cache type `reflink,copy`). Into `.dvc/cache` DVC here {cache}.",
            "Its state database is kept inside the repository so that it counts. Each `dvc` call",
            f"includes the CLI's start-up ({dvc['startup'].seconds:.1f} s for `dvc config` here).",
            "The frames are written as files first, one folder per recording, per frame",
            "`<frame_id>.npz` (PNG bytes, depth, LiDAR, metadata) and `<frame_id>.json` (label):",
            f"{dvc['files']:,} files, {write.bytes_written / MB:.0f} MB in {write.seconds:.1f} s,",
            "not counted below. Then `dvc add frames`. Each relabel round rewrites the JSON files",
            f"of its frames ({dvc['rewrite'].seconds:.2f} s, not counted), then `dvc add`.",
            "",
            "| step | Lance s | Lance MB | DVC s | DVC MB | DVC/Lance time | DVC/Lance bytes |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| commit {n:,} frames | {cells(lance['ingest'])} | | | | |",
            f"| label every frame | {cells(lance['labels'])} | | | | |",
            f"| frames + labels (DVC: `dvc add`) | {cells(first)} | {cells(dvc['add'])} "
            f"| {ratio(dvc['add'], first)} |",
            f"| relabel 10% ({rounds[0].num_rows:,} frames) | {cells(lance['relabel'])} "
            f"| {cells(dvc['readd'])} | {ratio(dvc['readd'], lance['relabel'])} |",
            "",
            f"Bytes of `frames.lance` written by the Lance relabels: {lance['frames_changed']:,}",
            "(new or modified files): labels live in `labels.lance`, sensor data is not rewritten.",
        ]
    )


def _dvc_version() -> str:
    done = subprocess.run(
        [str(DVC), "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    return done.stdout.strip()


if __name__ == "__main__":
    print(run())
