"""``robotops validate``: run every check on a dataset version and keep the report with it.

The report (JSON and a self-contained HTML page) is saved beside the version's tables, so a later
run with the same rules shows it without recomputing; a version never changes, so neither can
its report, except through different rules in ``robotops.yaml``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from robotops.config import Config
from robotops.dataset.refs import DatasetRef
from robotops.dataset.store import Snapshot, Store
from robotops.validate import balance, labels, leakage, sensors
from robotops.validate.context import Check, Context
from robotops.validate.report import ValidationReport
from robotops.validate.rules import Rule, Severity, resolve_rules
from robotops.validate.scan import scan

REPORT_JSON = "validation.json"
REPORT_HTML = "validation.html"
SAMPLES_PER_CLASS = 6

CHECKS: dict[str, Check] = {
    **labels.CHECKS,
    **sensors.CHECKS,
    **balance.CHECKS,
    **leakage.CHECKS,
}


@dataclass(frozen=True)
class Validation:
    """The outcome of :func:`validate`.

    Attributes:
        report: What the checks found.
        reused: True when the stored report was shown instead of recomputed.
        json_uri: Where the JSON report is kept.
        html_uri: Where the HTML report is kept.
    """

    report: ValidationReport
    reused: bool
    json_uri: str
    html_uri: str


def _digest(rules: dict[str, Rule], snapshot: Snapshot) -> str:
    data = {"rules": [asdict(r) for r in rules.values()], "classes": list(snapshot.classes)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def context(snapshot: Snapshot, stats: pa.Table) -> Context:
    """Join a version's frame index, labels, splits and scan statistics, in stored order."""
    index = snapshot.frames(["frame_id", "recording_id", "site", "stamp_ns", "tags"])
    index = index.append_column("row", pa.array(np.arange(index.num_rows), pa.int64()))
    table = index.join(snapshot.labels().select(["frame_id", "label", "review_status"]), "frame_id")
    table = table.join(snapshot.splits(), "frame_id")
    table = table.join(stats, "frame_id").sort_by("row")
    return Context(table=table, classes=snapshot.classes)


def _samples(snapshot: Snapshot, ctx: Context) -> dict[str, list[tuple[str, bytes]]]:
    """A few colour images per class, spread over the dataset, for the report's grid."""
    chosen: dict[str, list[str]] = {}
    ids, labels_, has_rgb = ctx.column("frame_id"), ctx.column("label"), ctx.column("has_rgb")
    for cls in ctx.classes:
        rows = [
            i
            for i, (lab, rgb) in enumerate(zip(labels_, has_rgb, strict=True))
            if lab == cls and rgb
        ]
        step = max(1, len(rows) // SAMPLES_PER_CLASS)
        chosen[cls] = [ids[i] for i in rows[::step][:SAMPLES_PER_CLASS]]
    wanted = [f for frames in chosen.values() for f in frames]
    found: dict[str, bytes] = {}
    for batch in snapshot.scan_frames(["frame_id", "rgb"], frame_ids=wanted):
        for row in batch.to_pylist():
            found[row["frame_id"]] = row["rgb"]
    return {cls: [(f, found[f]) for f in frames if f in found] for cls, frames in chosen.items()}


def validate(
    store: Store,
    ref: DatasetRef | str,
    config: Config,
    *,
    recompute: bool = False,
    workers: int | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> Validation:
    """Validate a dataset version, or show the report already kept with it.

    Args:
        store: The dataset store.
        ref: ``NAME``, ``NAME@VERSION`` or ``NAME@TAG``.
        config: Its ``checks:`` section sets severities and limits.
        recompute: Run the checks even when a report for the same rules is kept.
        workers: Threads decoding sensor data (default: one per core).
        on_frames: Called with the number of frames scanned after each batch.

    Raises:
        UsageError: ``checks:`` names an unknown check.
        NotFoundError: No such dataset or version.
    """
    from robotops.validate.html import render_html  # matplotlib loads only when a report is made

    snapshot = store.snapshot(ref)
    rules = resolve_rules(config.checks)
    digest = _digest(rules, snapshot)
    kept = None if recompute else snapshot.load_artifact(REPORT_JSON)
    if kept is not None:
        report = ValidationReport.from_json(json.loads(kept))
        html = snapshot.load_artifact(REPORT_HTML)
        if report.settings_digest == digest and html is not None:
            uris = snapshot.artifact_uri(REPORT_JSON), snapshot.artifact_uri(REPORT_HTML)
            return Validation(report, True, *uris)

    stats = scan(snapshot, workers=workers, on_frames=on_frames)
    ctx = context(snapshot, stats)
    results = tuple(
        CHECKS[rule.id](ctx, rule) for rule in rules.values() if rule.severity is not Severity.OFF
    )
    report = ValidationReport(
        dataset=str(snapshot),
        frames=ctx.frames,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        settings_digest=digest,
        classes=snapshot.classes,
        checks=results,
        distribution=balance.distribution(ctx),
    )
    page = render_html(report, ctx.table, _samples(snapshot, ctx))
    # HTML first: a JSON report is only ever kept with its page.
    html_uri = snapshot.save_artifact(REPORT_HTML, page.encode())
    json_uri = snapshot.save_artifact(REPORT_JSON, report.dumps().encode())
    return Validation(report, False, json_uri, html_uri)
