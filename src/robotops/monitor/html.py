"""A monitor report as one self-contained HTML page: verdict, features, overlaid distributions.

Like the validation and evaluation reports it shares its style with
(:data:`robotops.validate.html.BASE_CSS`), everything is inside the document: plots are PNGs in
``data:`` URIs, so the page opens offline. It reads the :class:`MonitorReport` only (the
histograms it keeps), so a stored ``--json`` report renders the same page.

Matplotlib and Jinja2 are imported when a page is rendered, not when this module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from robotops.monitor.drift import FeatureDrift
from robotops.monitor.monitor import MonitorReport, Verdict
from robotops.validate.html import (
    BASE_CSS,
    FAILED_COLOUR,
    PASSED_COLOUR,
    WARN_COLOUR,
    figure_uri,
    template_environment,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REFERENCE_COLOUR = "#2e86c1"
LOG_COLOUR = "#d35400"
_NO_VERDICT_COLOUR = "#7f8c8d"
_DPI = 100

_TITLES = {
    "class_mix": "Predicted class mix",
    "confidence": "Confidence of the predicted class",
    "brightness": "Colour image brightness (mean luminance, 0 to 1)",
    "depth_valid": "Share of valid depth pixels",
    "lidar_returns": "LiDAR returns with finite coordinates",
}

_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift monitor of {{ r.log }}: {{ r.verdict }}</title>
<style>
  :root { --failed: {{ colours.failed }}; --passed: {{ colours.passed }};
          --warn: {{ colours.warn }}; --none: {{ colours.none }};
          --line: #d5d8dc; --muted: #5d6d7e; }
{{ base_css }}
  .verdict.warn { background: var(--warn); }
  .verdict.none { background: var(--none); }
  tr.ok td.status { color: var(--passed); }
  tr.warn td.status { color: var(--warn); }
  tr.alert td.status { color: var(--failed); }
  tr.skipped td.status { color: var(--muted); }
  .muted { color: var(--muted); }
  ul.notes { margin: 8px 0; padding-left: 20px; }
</style>
</head>
<body>
<main>
<header class="verdict {{ banner }}">
  <h1>Drift {{ headline }}: <code>{{ r.model or "model" }}{{ "/" ~ r.version if r.version }}</code>
    against <code>{{ r.reference }}</code></h1>
  <p>{{ r.summary() }}</p>
</header>

<dl class="meta">
  <dt>prediction log</dt><dd><code>{{ r.log }}</code>, {{ r.rows }} frames
    ({{ r.low_confidence }} low-confidence, {{ r.inputs_kept }} with their input kept)</dd>
  <dt>logged</dt><dd>{{ period }}</dd>
  <dt>sites</dt><dd>{% for site, n in r.sites.items() %}{{ site }} ({{ n }}){{
    ", " if not loop.last }}{% endfor %}</dd>
  <dt>bundle</dt><dd><code>{{ r.bundle }}</code> (digest <code>{{ r.bundle_digest[:12] }}</code>)
  </dd>
  <dt>reference</dt><dd><code>{{ r.reference }}</code>{{ ", split " ~ r.reference_split
    if r.reference_split }}: {{ r.reference_frames }} frames scored with the bundle</dd>
  <dt>thresholds</dt><dd>PSI warn {{ s.psi_warn }}, alert {{ s.psi_alert }} (over {{ s.bins }}
    quantile bins); KS statistic {{ s.ks_statistic }}; p-value below {{ s.ks_pvalue }};
    at least {{ s.min_rows }} frames</dd>
  <dt>created</dt><dd>{{ r.created_at }}</dd>
</dl>
{% if r.notes %}
<ul class="notes">{% for note in r.notes %}<li>{{ note }}</li>{% endfor %}</ul>
{% endif %}

<h2>Features</h2>
<table>
  <thead><tr><th>feature</th><th>status</th><th class="num">PSI</th><th class="num">p-value</th>
  <th class="num">KS</th><th class="num">reference mean</th><th class="num">log mean</th>
  <th class="num">frames (ref / log)</th><th>why</th></tr></thead>
  <tbody>
  {% for f in r.features %}
  <tr class="{{ f.status }}" id="feature-{{ f.name }}">
    <td><code>{{ f.name }}</code></td><td class="status">{{ f.status }}</td>
    <td class="num">{{ f.psi | num }}</td><td class="num">{{ f.pvalue | p }}</td>
    <td class="num">{{ f.ks_statistic | num }}</td>
    <td class="num">{{ f.reference_mean | num }}</td><td class="num">{{ f.log_mean | num }}</td>
    <td class="num">{{ f.reference_rows }} / {{ f.log_rows }}</td><td>{{ f.reason }}</td>
  </tr>
  {% endfor %}
  </tbody>
</table>

{% for plot in plots %}
<h2>{{ plot.title }}</h2>
{% if plot.uri %}<img class="plot" src="{{ plot.uri }}" alt="{{ plot.title }}">{%
else %}<p class="nodata">No data: {{ plot.empty }}.</p>{% endif %}
{% endfor %}
</main>
</body>
</html>
"""


@dataclass(frozen=True)
class _Plot:
    title: str
    uri: str | None
    empty: str = ""


def render_monitor_html(report: MonitorReport) -> str:
    """Render a monitor report as one self-contained HTML document.

    Args:
        report: The report.

    Returns:
        The HTML document: verdict banner, the features' table, class-mix bars and overlaid
        reference/log histograms of every numeric feature.
    """
    from markupsafe import Markup

    env = template_environment()
    env.filters["num"] = number
    env.filters["p"] = lambda x: "" if x is None else f"{x:.2g}"
    verdict = report.verdict
    return env.from_string(_TEMPLATE).render(
        base_css=Markup(BASE_CSS),
        r=report,
        s=report.settings,
        banner={
            Verdict.ALERT: "failed",
            Verdict.WARN: "warn",
            Verdict.OK: "passed",
            Verdict.NO_VERDICT: "none",
        }[verdict],
        headline={
            Verdict.ALERT: "ALERT",
            Verdict.WARN: "warning",
            Verdict.OK: "none",
            Verdict.NO_VERDICT: "not judged",
        }[verdict],
        colours={
            "failed": FAILED_COLOUR,
            "passed": PASSED_COLOUR,
            "warn": WARN_COLOUR,
            "none": _NO_VERDICT_COLOUR,
        },
        period=_period(report),
        plots=[_plot(f) for f in report.features],
    )


def number(value: float | None) -> str:
    """A figure for a table: three significant digits, whole numbers from 1,000 up."""
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _period(report: MonitorReport) -> str:
    if report.first_ns is None or report.last_ns is None:
        return "unknown"
    first, last = (
        datetime.fromtimestamp(t / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        for t in (report.first_ns, report.last_ns)
    )
    return f"{first} to {last}"


def _plot(feature: FeatureDrift) -> _Plot:
    title = f"{_TITLES.get(feature.name, feature.name)}: {feature.status}"
    if feature.histogram is None:
        return _Plot(title, None, feature.reason)
    if feature.kind == "categorical":
        return _Plot(title, _bars(feature))
    return _Plot(title, _overlaid(feature))


def _figure() -> tuple[Figure, Axes]:
    """A new figure and its axes, drawn by Agg without pyplot's global state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_axisbelow(True)
    ax.grid(axis="y", color="#e5e8e8")
    return fig, ax


def _bars(feature: FeatureDrift) -> str:
    """Reference and log shares per class, side by side."""
    assert feature.histogram is not None
    h = feature.histogram
    fig, ax = _figure()
    x = np.arange(len(h.edges))
    ref_label, log_label = f"reference ({feature.reference_rows})", f"log ({feature.log_rows})"
    ax.bar(x - 0.2, h.reference, 0.4, label=ref_label, color=REFERENCE_COLOUR)
    ax.bar(x + 0.2, h.log, 0.4, label=log_label, color=LOG_COLOUR)
    ax.set_xticks(x, [str(e) for e in h.edges])
    ax.set_ylabel("share of frames")
    ax.legend(frameon=False)
    return figure_uri(fig)


def _overlaid(feature: FeatureDrift) -> str:
    """Reference and log histograms over the same bins, one over the other."""
    assert feature.histogram is not None
    h = feature.histogram
    fig, ax = _figure()
    edges = np.asarray(h.edges, np.float64)
    for shares, colour, label, rows in (
        (h.reference, REFERENCE_COLOUR, "reference", feature.reference_rows),
        (h.log, LOG_COLOUR, "log", feature.log_rows),
    ):
        ax.stairs(shares, edges, fill=True, alpha=0.35, color=colour)
        ax.stairs(shares, edges, color=colour, linewidth=1.5, label=f"{label} ({rows})")
    if feature.reference_range is not None:
        for bound, label in zip(
            feature.reference_range, ("reference 1st-99th %", None), strict=True
        ):
            ax.axvline(bound, color=REFERENCE_COLOUR, linestyle=":", linewidth=1, label=label)
    ax.set_ylabel("share of frames")
    ax.set_xlabel(f"PSI {feature.psi:.3g}, KS {feature.ks_statistic:.3g}, p {feature.pvalue:.2g}")
    ax.legend(frameon=False)
    return figure_uri(fig)
