"""What changed between two dataset versions: frames, labels, and class counts per site."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from robotops.dataset.store import Snapshot

UNLABELLED = "(unlabelled)"


@dataclass(frozen=True)
class DatasetDiff:
    """The difference from version ``a`` to version ``b``."""

    a: str
    b: str
    frames_added: int
    frames_removed: int
    label_changes: dict[tuple[str, str], int]  # (from, to) -> frames
    class_counts: dict[str, dict[str, tuple[int, int]]]  # site -> class -> (count in a, in b)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "a": self.a,
            "b": self.b,
            "frames_added": self.frames_added,
            "frames_removed": self.frames_removed,
            "label_changes": [
                {"from": f, "to": t, "frames": n}
                for (f, t), n in sorted(self.label_changes.items())
            ],
            "class_counts": {
                site: {cls: {"a": ca, "b": cb} for cls, (ca, cb) in classes.items()}
                for site, classes in self.class_counts.items()
            },
        }

    def to_markdown(self) -> str:
        """Markdown for a pull-request comment."""
        lines = [
            f"### Dataset diff `{self.a}` → `{self.b}`",
            "",
            f"- frames added: **{self.frames_added}**, removed: **{self.frames_removed}**",
            f"- label changes: **{sum(self.label_changes.values())}**",
            "",
        ]
        if self.label_changes:
            lines += ["| from | to | frames |", "| --- | --- | ---: |"]
            lines += [f"| {f} | {t} | {n} |" for (f, t), n in sorted(self.label_changes.items())]
            lines.append("")
        lines += [
            "| site | class | before | after | change |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for site, classes in self.class_counts.items():
            for cls, (ca, cb) in classes.items():
                lines.append(f"| {site} | {cls} | {ca} | {cb} | {cb - ca:+d} |")
        return "\n".join(lines) + "\n"


def _labels_by_frame(snap: Snapshot) -> dict[str, str]:
    labels = snap.labels().select(["frame_id", "label"]).to_pylist()
    return {row["frame_id"]: row["label"] for row in labels}


def _class_counts(snap: Snapshot, labels: dict[str, str]) -> Counter[tuple[str, str]]:
    frames = snap.frames(["frame_id", "site"]).to_pylist()
    return Counter((f["site"] or "(none)", labels.get(f["frame_id"], UNLABELLED)) for f in frames)


def diff(a: Snapshot, b: Snapshot) -> DatasetDiff:
    """Compare two versions of a dataset (or of two datasets)."""
    ids_a = set(a.frames(["frame_id"]).column("frame_id").to_pylist())
    ids_b = set(b.frames(["frame_id"]).column("frame_id").to_pylist())
    labels_a, labels_b = _labels_by_frame(a), _labels_by_frame(b)
    changes: Counter[tuple[str, str]] = Counter()
    for fid in ids_a & ids_b:
        before, after = labels_a.get(fid, UNLABELLED), labels_b.get(fid, UNLABELLED)
        if before != after:
            changes[(before, after)] += 1
    counts_a, counts_b = _class_counts(a, labels_a), _class_counts(b, labels_b)
    per_site: dict[str, dict[str, tuple[int, int]]] = {}
    for site, cls in sorted(set(counts_a) | set(counts_b)):
        per_site.setdefault(site, {})[cls] = (counts_a[(site, cls)], counts_b[(site, cls)])
    return DatasetDiff(
        a=str(a),
        b=str(b),
        frames_added=len(ids_b - ids_a),
        frames_removed=len(ids_a - ids_b),
        label_changes=dict(changes),
        class_counts=per_site,
    )
