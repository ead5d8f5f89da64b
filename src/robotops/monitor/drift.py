"""Drift of one feature between a reference sample and a logged sample: PSI, KS and a verdict.

Two measures, because each misses what the other sees:

* **PSI** (population stability index), the industry's effect size for a shifted distribution:
  ``sum((log% - ref%) * ln(log% / ref%))`` over bins. Numbers are binned at the reference's
  quantiles, so each bin holds about the same share of the reference; a category is its own bin.
  An empty bin counts as :data:`EPSILON` so that the logarithm stays finite. Rules of thumb:
  below 0.1 stable, 0.1 to 0.25 a shift worth a look, above 0.25 a different population.
* **A test** of whether the difference could be chance: the two-sample Kolmogorov-Smirnov test
  for numbers (its statistic, the largest gap between the two cumulative distributions, is a
  second effect size), the chi-square test of homogeneity for categories.

PSI has no notion of sample size: a few dozen rows give a PSI of several tenths by chance alone.
A test has no notion of size of effect: a million rows make a tiny shift significant. So a
feature is an **alert** only when the shift is both large (PSI at or above ``psi_alert``, or a
KS statistic at or above ``ks_statistic``) and significant (p-value below ``ks_pvalue``); a
**warning** when PSI reaches ``psi_warn`` without that; otherwise **ok**. A feature that one side
lacks (a modality missing in every frame), or a log with fewer than ``min_rows`` rows, gets no
verdict, and the report says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from robotops.config import MonitorSettings

EPSILON = 1e-4
"""Share given to a bin that one side leaves empty, so PSI stays finite."""

HISTOGRAM_BINS = 30
"""Equal-width bins of the histograms kept for the report's plots."""

LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.0
"""The reference's usual range of a number; outside it, a logged frame counts as drifted."""


class Status(StrEnum):
    """A feature's verdict."""

    OK = "ok"
    WARN = "warn"
    ALERT = "alert"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Histogram:
    """Shares of both samples over the same bins, for plotting.

    Attributes:
        edges: Bin edges (numbers: equal width over both samples' range), or category names.
        reference: Share of the reference in each bin.
        log: Share of the log in each bin.
    """

    edges: tuple[float, ...] | tuple[str, ...]
    reference: tuple[float, ...]
    log: tuple[float, ...]


@dataclass(frozen=True)
class FeatureDrift:
    """How one feature moved from the reference to the log.

    Attributes:
        name: The feature (``class_mix``, ``confidence``, ``brightness``, ...).
        kind: ``numeric`` or ``categorical``.
        status: The verdict.
        reason: Why, in a few words (thresholds crossed, or why there is no verdict).
        reference_rows: Reference frames with a value.
        log_rows: Logged frames with a value.
        psi: Population stability index; None without both samples.
        pvalue: The test's p-value (KS, or chi-square for categories); None without a test.
        ks_statistic: Largest gap between the cumulative distributions (numbers only).
        reference_mean: Mean of the reference (numbers only).
        log_mean: Mean of the log (numbers only).
        reference_range: The reference's 1st and 99th percentiles (numbers only).
        histogram: Both samples' shares over common bins, for the report's plots.
    """

    name: str
    kind: str
    status: Status
    reason: str
    reference_rows: int
    log_rows: int
    psi: float | None = None
    pvalue: float | None = None
    ks_statistic: float | None = None
    reference_mean: float | None = None
    log_mean: float | None = None
    reference_range: tuple[float, float] | None = None
    histogram: Histogram | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["status"] = str(self.status)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureDrift:
        """The inverse of :meth:`to_dict`."""
        data = dict(data)
        data["status"] = Status(data["status"])
        if data.get("reference_range") is not None:
            data["reference_range"] = tuple(data["reference_range"])
        if data.get("histogram") is not None:
            h = data["histogram"]
            data["histogram"] = Histogram(tuple(h["edges"]), tuple(h["reference"]), tuple(h["log"]))
        return cls(**data)


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles ``1/bins, ..., (bins-1)/bins``.

    Repeated edges (a value many reference rows share) are merged, so there may be fewer bins.
    """
    quantiles = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return np.unique(np.quantile(np.asarray(reference, np.float64), quantiles))


def psi_from_shares(reference: np.ndarray, log: np.ndarray) -> float:
    """PSI of two share vectors over the same bins (each summing to 1); empty bins get EPSILON."""
    ref = np.maximum(np.asarray(reference, np.float64), EPSILON)
    obs = np.maximum(np.asarray(log, np.float64), EPSILON)
    return float(np.sum((obs - ref) * np.log(obs / ref)))


def psi(reference: np.ndarray, log: np.ndarray, bins: int = 10) -> float:
    """PSI of numbers, binned at the reference's quantiles (outer bins open-ended).

    Args:
        reference: The reference sample (non-empty).
        log: The logged sample (non-empty).
        bins: Quantile bins asked for (fewer where reference values repeat).
    """
    edges = quantile_edges(reference, bins)
    return psi_from_shares(_shares(reference, edges), _shares(log, edges))


def categorical_psi(
    reference: Sequence[str], log: Sequence[str], categories: Sequence[str]
) -> float:
    """PSI of categories (each one bin); values outside ``categories`` are ignored."""
    return psi_from_shares(
        _category_shares(reference, categories), _category_shares(log, categories)
    )


def compare_numeric(
    name: str, reference: np.ndarray, log: np.ndarray, settings: MonitorSettings
) -> FeatureDrift:
    """PSI, KS test and verdict of one numeric feature; NaN values count as missing.

    Args:
        name: The feature's name.
        reference: Reference values, NaN where the frame lacks the feature.
        log: Logged values, NaN likewise.
        settings: Bins and thresholds.
    """
    from scipy.stats import ks_2samp  # scipy: loaded when a comparison runs

    ref = _finite(reference)
    obs = _finite(log)
    missing = _missing(name, ref.size, np.size(reference), obs.size, np.size(log), settings)
    if missing is not None:
        return FeatureDrift(name, "numeric", Status.SKIPPED, missing, ref.size, obs.size)
    test = ks_2samp(ref, obs)
    value = psi(ref, obs, settings.bins)
    low, high = np.percentile(ref, [LOW_PERCENTILE, HIGH_PERCENTILE])
    status, reason = _verdict(value, float(test.pvalue), float(test.statistic), settings)
    return FeatureDrift(
        name=name,
        kind="numeric",
        status=status,
        reason=reason,
        reference_rows=ref.size,
        log_rows=obs.size,
        psi=value,
        pvalue=float(test.pvalue),
        ks_statistic=float(test.statistic),
        reference_mean=float(ref.mean()),
        log_mean=float(obs.mean()),
        reference_range=(float(low), float(high)),
        histogram=_histogram(ref, obs),
    )


def compare_categorical(
    name: str,
    reference: Sequence[str],
    log: Sequence[str],
    categories: Sequence[str],
    settings: MonitorSettings,
) -> FeatureDrift:
    """PSI, chi-square test and verdict of one categorical feature (the class mix).

    Args:
        name: The feature's name.
        reference: Reference values.
        log: Logged values.
        categories: All categories, in display order; other values are ignored.
        settings: Thresholds.
    """
    from scipy.stats import chi2_contingency

    ref_counts = _category_counts(reference, categories)
    log_counts = _category_counts(log, categories)
    n_ref, n_log = int(ref_counts.sum()), int(log_counts.sum())
    missing = _missing(name, n_ref, n_ref, n_log, n_log, settings)
    if missing is not None:
        return FeatureDrift(name, "categorical", Status.SKIPPED, missing, n_ref, n_log)
    ref_shares, log_shares = ref_counts / n_ref, log_counts / n_log
    value = psi_from_shares(ref_shares, log_shares)
    seen = (ref_counts + log_counts) > 0
    if seen.sum() < 2:  # one class on both sides: nothing to test
        pvalue = 1.0
    else:
        table = np.stack([ref_counts[seen], log_counts[seen]])
        pvalue = float(chi2_contingency(table).pvalue)
    status, reason = _verdict(value, pvalue, None, settings)
    return FeatureDrift(
        name=name,
        kind="categorical",
        status=status,
        reason=reason,
        reference_rows=n_ref,
        log_rows=n_log,
        psi=value,
        pvalue=pvalue,
        histogram=Histogram(
            tuple(categories), tuple(map(float, ref_shares)), tuple(map(float, log_shares))
        ),
    )


def _verdict(
    value: float, pvalue: float, statistic: float | None, settings: MonitorSettings
) -> tuple[Status, str]:
    """Status and reason from PSI, p-value and (numbers) KS statistic; see the module doc."""
    significant = pvalue < settings.ks_pvalue
    large = []
    if value >= settings.psi_alert:
        large.append(f"PSI {value:.2f} >= {settings.psi_alert:g}")
    if statistic is not None and statistic >= settings.ks_statistic:
        large.append(f"KS {statistic:.2f} >= {settings.ks_statistic:g}")
    test = "KS" if statistic is not None else "chi-square"
    if large and significant:
        return Status.ALERT, f"{', '.join(large)}, {test} p {pvalue:.2g} < {settings.ks_pvalue:g}"
    if value >= settings.psi_warn:
        why = f"PSI {value:.2f} >= {settings.psi_warn:g}"
        if not significant:
            why += f", not significant ({test} p {pvalue:.2g})"
        return Status.WARN, why
    return Status.OK, f"PSI {value:.2f} < {settings.psi_warn:g}"


def _missing(
    name: str, ref: int, ref_total: int, obs: int, obs_total: int, settings: MonitorSettings
) -> str | None:
    """Why a feature gets no verdict, or None when both sides have enough values."""
    if ref == 0:
        return f"no reference frame has {name} (of {ref_total})"
    if obs == 0:
        return f"no logged frame has {name} (of {obs_total})"
    if obs < settings.min_rows:
        return f"{obs} logged frames with {name}, fewer than min_rows {settings.min_rows}"
    return None


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float64)
    return values[np.isfinite(values)]


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each bin ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(np.size(values), 1)


def _category_counts(values: Sequence[str], categories: Sequence[str]) -> np.ndarray:
    position = {c: i for i, c in enumerate(categories)}
    counts = np.zeros(len(categories), np.float64)
    for value in values:
        if value in position:
            counts[position[value]] += 1
    return counts


def _category_shares(values: Sequence[str], categories: Sequence[str]) -> np.ndarray:
    counts = _category_counts(values, categories)
    return counts / max(counts.sum(), 1.0)


def _histogram(reference: np.ndarray, log: np.ndarray) -> Histogram:
    """Both samples over :data:`HISTOGRAM_BINS` equal-width bins spanning both."""
    low = float(min(reference.min(), log.min()))
    high = float(max(reference.max(), log.max()))
    if high <= low:  # one value everywhere: one bin around it
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    ref = np.histogram(reference, edges)[0] / reference.size
    obs = np.histogram(log, edges)[0] / log.size
    return Histogram(tuple(map(float, edges)), tuple(map(float, ref)), tuple(map(float, obs)))
