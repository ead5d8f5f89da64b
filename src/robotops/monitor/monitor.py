"""``robotops monitor``: a prediction log against a reference dataset version, as one report.

Which rows, which bundle and which reference:

* **Rows**: a log may hold rows of several bundles (the server reloads). The rows compared are
  those of one bundle: the one ``bundle`` names (by its digest, the SHA-256 of its manifest), or
  else the bundle of the newest logged row. Rows of other bundles are left out, and the report
  says how many.
* **Bundle**: ``bundle`` if given, else the folder the log's ``bundles.json`` records for the
  chosen digest. The bundle is run on the reference frames, so that class mix and confidence
  compare the same model's predictions on both sides.
* **Reference**: ``reference`` if given, else the dataset version the bundle's model was
  trained on (its manifest). Of it, the split ``monitor.reference_split`` names, else the split
  the bundle was checked on at export (its held-out frames: a model is overconfident on its
  training frames), else every frame; at most ``monitor.max_reference_frames``, a seeded sample.

Features compared: the class mix of the predictions, their confidence, and the input statistics
of :mod:`robotops.monitor.stats`; each gets a verdict as :mod:`robotops.monitor.drift` explains.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from robotops.config import MonitorSettings
from robotops.dataset.store import Store
from robotops.errors import NotFoundError, UsageError
from robotops.monitor.drift import FeatureDrift, Status, compare_categorical, compare_numeric
from robotops.monitor.reference import held_out_split, score_reference
from robotops.monitor.stats import STATS
from robotops.runtime import Bundle, load_bundle
from robotops.runtime.manifest import MANIFEST, file_sha256
from robotops.serve.predlog import BUNDLES, read_bundles, read_log

FEATURES = ("class_mix", "confidence", *STATS)
"""The features compared, in report order."""

LOG_COLUMNS = (
    "request_id",
    "item",
    "time_ns",
    "version",
    "bundle",
    "label",
    "confidence",
    "site",
    *STATS,
    "low_confidence",
    "input_kept",
)
"""The log columns a comparison reads (no inputs)."""


class Verdict(StrEnum):
    """The report's overall verdict."""

    OK = "ok"
    WARN = "warn"
    ALERT = "alert"
    NO_VERDICT = "no verdict"


@dataclass(frozen=True)
class MonitorReport:
    """A prediction log compared with a reference dataset version.

    Attributes:
        log: The log folder.
        bundle: The bundle folder run on the reference.
        bundle_digest: The digest whose logged rows were compared.
        model: The model's registered name, if any.
        version: The model's registered version, if any.
        classes: The model's class list.
        reference: The reference version, ``NAME@VERSION``.
        reference_split: Its split compared with, or None for every frame.
        reference_frames: Reference frames scored.
        reference_available: Reference frames there were to sample from.
        rows: Logged rows compared.
        low_confidence: Of them, rows below the server's low-confidence threshold.
        inputs_kept: Of them, rows whose input the log kept.
        first_ns: Time of the first row compared.
        last_ns: Time of the last row compared.
        sites: Rows per site the requests named (``"unknown"`` where none).
        features: One comparison per feature of :data:`FEATURES`.
        settings: The ``monitor:`` settings used.
        notes: Things the reader should know (rows left out, a bundle that differs, ...).
        created_at: When the report was made, ISO 8601 UTC.
    """

    log: str
    bundle: str
    bundle_digest: str
    model: str | None
    version: str | None
    classes: tuple[str, ...]
    reference: str
    reference_split: str | None
    reference_frames: int
    reference_available: int
    rows: int
    low_confidence: int
    inputs_kept: int
    first_ns: int | None
    last_ns: int | None
    sites: dict[str, int]
    features: tuple[FeatureDrift, ...]
    settings: dict[str, Any]
    notes: tuple[str, ...] = ()
    created_at: str = ""

    @property
    def verdict(self) -> Verdict:
        """Alert if a feature alerts, warn if one warns; no verdict below ``min_rows`` rows."""
        if self.rows < self.settings["min_rows"]:
            return Verdict.NO_VERDICT
        statuses = {f.status for f in self.features}
        if Status.ALERT in statuses:
            return Verdict.ALERT
        return Verdict.WARN if Status.WARN in statuses else Verdict.OK

    @property
    def alerts(self) -> tuple[FeatureDrift, ...]:
        """The features that alert."""
        return tuple(f for f in self.features if f.status is Status.ALERT)

    def feature(self, name: str) -> FeatureDrift:
        """The comparison of feature ``name``."""
        return next(f for f in self.features if f.name == name)

    def summary(self) -> str:
        """One line: the verdict and what it rests on."""
        if self.verdict is Verdict.NO_VERDICT:
            return (
                f"no verdict: {self.rows} logged frames, fewer than monitor.min_rows "
                f"({self.settings['min_rows']})"
            )
        if self.alerts:
            return "drift alert: " + "; ".join(f"{f.name} {f.reason}" for f in self.alerts)
        warned = [f.name for f in self.features if f.status is Status.WARN]
        if warned:
            return f"drift warning: {', '.join(warned)}; no alert"
        return "no drift: every feature within monitor thresholds"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` output), verdict and summary included."""
        return {
            "verdict": str(self.verdict),
            "summary": self.summary(),
            "log": self.log,
            "bundle": self.bundle,
            "bundle_digest": self.bundle_digest,
            "model": self.model,
            "version": self.version,
            "classes": list(self.classes),
            "reference": self.reference,
            "reference_split": self.reference_split,
            "reference_frames": self.reference_frames,
            "reference_available": self.reference_available,
            "rows": self.rows,
            "low_confidence": self.low_confidence,
            "inputs_kept": self.inputs_kept,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "sites": dict(self.sites),
            "features": [f.to_dict() for f in self.features],
            "settings": dict(self.settings),
            "notes": list(self.notes),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorReport:
        """The inverse of :meth:`to_dict` (verdict and summary are recomputed)."""
        fields = {k: v for k, v in data.items() if k not in ("verdict", "summary")}
        fields["classes"] = tuple(fields["classes"])
        fields["features"] = tuple(FeatureDrift.from_dict(f) for f in fields["features"])
        fields["notes"] = tuple(fields.get("notes", ()))
        return cls(**fields)


def run_monitor(
    log: Path,
    store: Store,
    settings: MonitorSettings,
    *,
    reference: str | None = None,
    bundle: Path | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> MonitorReport:
    """Compare the prediction log in ``log`` with a reference dataset version.

    Args:
        log: The prediction log folder (``robotops serve --log``).
        store: The dataset store holding the reference.
        settings: Bins, thresholds and the reference sample (``monitor:`` in robotops.yaml).
        reference: ``NAME@VERSION`` to compare with (default: the model's training version).
        bundle: The bundle folder (default: the one the log records for its newest rows).
        on_frames: Called with the number of reference frames scored after each batch.

    Returns:
        The report; nothing is written.

    Raises:
        NotFoundError: No log or no rows in it, no rows of ``bundle``, no bundle folder, or no
            such reference version.
        UsageError: No bundle recorded and none given, or no reference known and none given.
        DataError: A log part, the bundle or a reference frame is unreadable.
    """
    log = Path(log)
    table = read_log(log, LOG_COLUMNS)
    if table.num_rows == 0:
        raise NotFoundError(f"{log}: the prediction log has no rows yet")
    recorded = read_bundles(log)
    if bundle is not None:
        loaded = load_bundle(bundle)
        digest = file_sha256(Path(bundle) / MANIFEST)
    else:
        digest = table.column("bundle")[-1].as_py()  # the newest row's
        loaded = _recorded_bundle(log, digest, recorded)
    rows = table.filter(pc.equal(table.column("bundle"), digest))
    notes = []
    if rows.num_rows == 0:
        raise NotFoundError(
            f"{log}: no logged rows from the bundle at {bundle} (digest {digest[:12]}); the log "
            f"has rows of {_bundle_counts(table)}"
        )
    if rows.num_rows < table.num_rows:
        notes.append(
            f"{table.num_rows - rows.num_rows} rows of other bundles left out "
            f"({_bundle_counts(table, but=digest)}); --bundle PATH monitors another"
        )
    ref = (
        reference
        or (loaded.manifest.get("dataset") or {}).get("ref")
        or (recorded.get(digest) or {}).get("dataset")
    )
    if not ref:
        raise UsageError(
            f"{loaded.path}: the bundle names no training dataset version; give --reference "
            "NAME@VERSION"
        )
    snapshot = store.snapshot(ref)
    split = settings.reference_split or held_out_split(snapshot, loaded.manifest)
    sample = score_reference(
        snapshot,
        loaded,
        split=split,
        max_frames=settings.max_reference_frames,
        on_frames=on_frames,
    )
    if sample.frames < sample.available:
        notes.append(
            f"reference: a seeded sample of {sample.frames} of {sample.available} frames "
            "(monitor.max_reference_frames)"
        )
    features = [
        compare_categorical(
            "class_mix",
            sample.labels,
            rows.column("label").to_pylist(),
            loaded.classes,
            settings,
        ),
        compare_numeric("confidence", sample.confidence, _numbers(rows, "confidence"), settings),
    ]
    features += [
        compare_numeric(name, sample.stats[name], _numbers(rows, name), settings) for name in STATS
    ]
    times = rows.column("time_ns")
    sites = Counter(s or "unknown" for s in rows.column("site").to_pylist())
    return MonitorReport(
        log=str(log),
        bundle=str(loaded.path),
        bundle_digest=digest,
        model=loaded.name,
        version=loaded.version,
        classes=loaded.classes,
        reference=sample.ref,
        reference_split=split,
        reference_frames=sample.frames,
        reference_available=sample.available,
        rows=rows.num_rows,
        low_confidence=int(pc.sum(rows.column("low_confidence")).as_py() or 0),
        inputs_kept=int(pc.sum(rows.column("input_kept")).as_py() or 0),
        first_ns=pc.min(times).as_py(),
        last_ns=pc.max(times).as_py(),
        sites=dict(sites.most_common()),
        features=tuple(features),
        settings=settings.model_dump(),
        notes=tuple(notes),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _recorded_bundle(log: Path, digest: str, recorded: dict[str, dict[str, Any]]) -> Bundle:
    """The bundle the log's ``bundles.json`` records for ``digest``."""
    path = (recorded.get(digest) or {}).get("path")
    if not path:
        raise UsageError(
            f"{log}: no bundle recorded for digest {digest[:12]} in {BUNDLES}; give --bundle PATH"
        )
    try:
        return load_bundle(path)
    except NotFoundError as err:
        raise NotFoundError(
            f"{err} (the bundle {log / BUNDLES} records); give --bundle PATH"
        ) from err


def _bundle_counts(table: pa.Table, but: str | None = None) -> str:
    counts = Counter(table.column("bundle").to_pylist())
    return ", ".join(f"{d[:12]} ({n} rows)" for d, n in counts.most_common() if d != but)


def _numbers(rows: pa.Table, column: str) -> np.ndarray:
    """A column as float64, NaN where null."""
    values = pc.cast(rows.column(column), pa.float64())
    return values.to_numpy(zero_copy_only=False)
