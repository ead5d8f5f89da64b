"""A validation report as one self-contained HTML page: verdict, checks, plots and sample images.

Everything the page shows is inside the document: plots are PNGs and sample images their own
bytes, both as ``data:`` URIs, and the style sheet is inline, so the page opens offline from a
``file://`` path, from a CI artifact or from an e-mail attachment. The page needs no JavaScript;
one short inline script only records, once the page has loaded, how many images decoded (in
``<body data-images="LOADED/TOTAL">``), which the browser test reads.

Matplotlib and Jinja2 are imported when a page is rendered, not when this module is imported.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from robotops.ingest.decode import IMAGE_ERRORS
from robotops.validate.report import ValidationReport

if TYPE_CHECKING:
    import jinja2
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Verdict and status colours; the browser test looks for the verdict colours in a screenshot.
FAILED_COLOUR = "#c0392b"
PASSED_COLOUR = "#1e8449"
WARN_COLOUR = "#b9770e"
UNLABELLED = "(unlabelled)"

BASE_CSS = """\
  * { box-sizing: border-box; }
  body { margin: 0; background: #f4f6f7; color: #1c2833;
         font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
               Arial, sans-serif; }
  main { max-width: 1100px; margin: 0 auto; padding: 0 24px 48px; background: #fff;
         min-height: 100vh; }
  .verdict { margin: 0 -24px; padding: 20px 24px; color: #fff; }
  .verdict.failed { background: var(--failed); }
  .verdict.passed { background: var(--passed); }
  .verdict h1 { margin: 0; font-size: 26px; font-weight: 600; }
  .verdict p { margin: 4px 0 0; font-size: 16px; }
  h2 { margin: 36px 0 12px; font-size: 20px; border-bottom: 1px solid var(--line);
       padding-bottom: 4px; }
  dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px;
            margin: 16px 0; }
  dl.meta dt { color: var(--muted); }
  dl.meta dd { margin: 0; }
  code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border: 1px solid var(--line); padding: 6px 8px; text-align: left;
           vertical-align: top; }
  th { background: #eaeded; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.status { font-weight: 700; }
  img.plot { display: block; max-width: 100%; height: auto; margin: 8px 0; }
  .nodata { color: var(--muted); font-style: italic; }
"""
"""The style every robotops HTML report shares (validation, evaluation, monitoring).

It reads the colours from CSS variables that each page sets in its own ``:root`` rule:
``--failed``, ``--passed``, ``--warn``, ``--line`` and ``--muted``.
"""

_SLICE_ORDER = ("site", "split")  # plotted first; other slice kinds (tags) follow, sorted
_DPI = 100
_HIST_BINS = 30

_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Validation of {{ report.dataset }}: {{ verdict }}</title>
<style>
  :root { --failed: {{ colours.failed }}; --passed: {{ colours.passed }};
          --warn: {{ colours.warn }}; --line: #d5d8dc; --muted: #5d6d7e; }
{{ base_css }}
  h3 { margin: 20px 0 8px; font-size: 16px; }
  .chip { display: inline-block; padding: 1px 10px; border-radius: 10px; color: #fff;
          font-weight: 600; font-size: 13px; margin-right: 6px; }
  .chip.pass { background: var(--passed); }
  .chip.warn { background: var(--warn); }
  .chip.FAIL { background: var(--failed); }
  table.counts { width: auto; min-width: 280px; }
  tr.FAIL td.status { color: var(--failed); }
  tr.warn td.status { color: var(--warn); }
  tr.pass td.status { color: var(--passed); }
  .title { display: block; color: var(--muted); font-size: 13px; }
  ul.details { margin: 4px 0 0; padding-left: 18px; font-size: 13px; }
  .frames { font-size: 12px; color: var(--muted); word-break: break-all; }
  .frames code { font-size: 12px; }
  .grid { display: flex; flex-wrap: wrap; gap: 12px; }
  figure { margin: 0; width: 168px; }
  figure img { display: block; width: 168px; height: 126px; object-fit: contain;
               background: #eaeded; border: 1px solid var(--line); }
  figcaption { font-size: 11px; color: var(--muted); word-break: break-all; margin-top: 2px; }
  .broken { display: flex; align-items: center; justify-content: center; width: 168px;
            height: 126px; border: 1px dashed var(--failed); color: var(--failed);
            font-size: 12px; }
</style>
</head>
<body>
<main>
<header class="verdict {{ verdict }}">
  <h1>Validation {{ verdict }}: <code>{{ report.dataset }}</code></h1>
  <p>{{ counts.FAIL }} failed, {{ counts.warn }} warning{{ "s" if counts.warn != 1 }},
     {{ counts.pass }} passed &middot; {{ report.frames }} frames</p>
</header>

<dl class="meta">
  <dt>dataset</dt><dd><code>{{ report.dataset }}</code></dd>
  <dt>frames</dt><dd>{{ report.frames }}</dd>
  <dt>created</dt><dd>{{ report.created_at }}</dd>
  <dt>classes</dt><dd>{{ report.classes | join(", ") or "none" }}</dd>
  <dt>checks</dt>
  <dd><span class="chip pass">{{ counts.pass }} pass</span><span
      class="chip warn">{{ counts.warn }} warn</span><span
      class="chip FAIL">{{ counts.FAIL }} FAIL</span></dd>
  <dt>rules</dt><dd><code>{{ report.settings_digest }}</code></dd>
</dl>

<h2>Checks</h2>
{% if report.checks %}
<table class="checks">
  <thead><tr><th>check</th><th>severity</th><th>status</th><th>found</th>
  <th>example frames</th></tr></thead>
  <tbody>
  {% for check in report.checks %}
  <tr class="{{ check.status }}" id="check-{{ check.id }}">
    <td><code>{{ check.id }}</code><span class="title">{{ check.title }}</span></td>
    <td>{{ check.severity }}</td>
    <td class="status">{{ check.status }}</td>
    <td>{{ check.summary }}
      {% if check.details %}<ul class="details">
      {% for line in check.details %}<li>{{ line }}</li>{% endfor %}
      </ul>{% endif %}</td>
    <td class="frames">{% for frame in check.frames %}<code>{{ frame }}</code>{{
      "<br>" | safe if not loop.last }}{% endfor %}</td>
  </tr>
  {% endfor %}
  </tbody>
</table>
{% else %}
<p class="nodata">No checks ran.</p>
{% endif %}

<h2>Classes</h2>
{% if overall %}
<table class="counts">
  <thead><tr><th>class</th><th class="num">labelled frames</th><th class="num">share</th></tr>
  </thead>
  <tbody>
  {% for name, n, share in overall %}
  <tr><td>{{ name }}</td><td class="num">{{ n }}</td><td class="num">{{ share }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{% else %}
<p class="nodata">No data: no frame is labelled.</p>
{% endif %}
{% for plot in slice_plots %}
<h3>{{ plot.title }}</h3>
{% if plot.uri %}<img class="plot" src="{{ plot.uri }}" alt="{{ plot.title }}">{%
else %}<p class="nodata">No data: no labelled frames.</p>{% endif %}
{% endfor %}

<h2>Samples</h2>
{% for name, items in samples %}
<h3>{{ name }}</h3>
<div class="grid">
  {% for item in items %}
  <figure>
    {% if item.uri %}<img src="{{ item.uri }}" alt="{{ item.frame_id }}">{%
    else %}<div class="broken">does not decode</div>{% endif %}
    <figcaption><code>{{ item.frame_id }}</code></figcaption>
  </figure>
  {% endfor %}
</div>
{% else %}
<p class="nodata">No data: no sample images.</p>
{% endfor %}

<h2>Sensors</h2>
{% for plot in sensor_plots %}
<h3>{{ plot.title }}</h3>
{% if plot.uri %}<img class="plot" src="{{ plot.uri }}" alt="{{ plot.title }}">{%
else %}<p class="nodata">No data: {{ plot.empty }}.</p>{% endif %}
{% endfor %}
</main>
{{ images_script }}
</body>
</html>
"""


@dataclass(frozen=True)
class _Plot:
    title: str
    uri: str | None = None  # None: nothing to plot
    empty: str = ""  # why there is nothing to plot


@dataclass(frozen=True)
class _Sample:
    frame_id: str
    uri: str | None  # None: the bytes do not decode as an image


def render_html(
    report: ValidationReport,
    frames: pa.Table,
    samples: Mapping[str, Sequence[tuple[str, bytes]]],
) -> str:
    """Render a validation report as one self-contained HTML document.

    Args:
        report: The report: verdict, checks and the class distribution plotted per slice.
        frames: One row per frame with at least ``label`` (string, null when unlabelled),
            ``depth_valid`` (share of valid depth pixels, null without depth) and
            ``lidar_finite`` (finite LiDAR points, null without a cloud). A missing column shows
            as no data.
        samples: Sample images per class, as ``(frame_id, encoded image)`` pairs. PNG, JPEG, GIF
            and WebP are embedded as they are, other formats Pillow reads as PNG; bytes that do
            not decode are shown as such.

    Returns:
        The HTML document.
    """
    from markupsafe import Markup

    classes = _class_order(report, frames, samples)
    colours = _class_colours(classes)
    overall = report.distribution.get("overall", {})
    labelled = sum(overall.values())
    env = template_environment()
    return env.from_string(_TEMPLATE).render(
        base_css=Markup(BASE_CSS),
        images_script=Markup(IMAGES_SCRIPT),
        report=report,
        verdict="failed" if report.failed else "passed",
        counts=report.counts,
        colours={"failed": FAILED_COLOUR, "passed": PASSED_COLOUR, "warn": WARN_COLOUR},
        overall=[
            (name, overall[name], f"{overall[name] / labelled:.1%}")
            for name in classes
            if overall.get(name)
        ],
        slice_plots=[
            _Plot(
                title=f"Labelled frames per class and {_slice_name(kind)}",
                uri=_slice_bars(kind, by_slice, classes, colours),
            )
            for kind, by_slice in _slice_kinds(report.distribution)
        ],
        samples=[
            (name, [_Sample(frame_id, _image_uri(data)) for frame_id, data in samples[name]])
            for name in classes
            if samples.get(name)
        ],
        sensor_plots=[
            _histogram(
                frames,
                "depth_valid",
                title="Valid depth pixels per frame",
                xlabel="share of valid (non-zero) depth pixels",
                empty="no frame has depth",
                classes=classes,
                colours=colours,
                integer=False,
            ),
            _histogram(
                frames,
                "lidar_finite",
                title="Finite LiDAR returns per frame",
                xlabel="points with finite x, y, z",
                empty="no frame has a LiDAR cloud",
                classes=classes,
                colours=colours,
                integer=True,
            ),
        ],
    )


def _class_order(
    report: ValidationReport, frames: pa.Table, samples: Mapping[str, object]
) -> list[str]:
    """The report's classes in its order, then any other class found in the data, sorted."""
    found = set(samples) | set(report.distribution.get("overall", {}))
    for _, by_slice in _slice_kinds(report.distribution):
        for counts in by_slice.values():
            found.update(counts)
    if "label" in frames.column_names:
        labels = pc.unique(frames.column("label").cast(pa.string())).to_pylist()
        found.update(label for label in labels if label is not None)
    return list(report.classes) + sorted(found - set(report.classes))


def _class_colours(classes: Sequence[str]) -> dict[str, Any]:
    """One colour per class, the same in every plot; grey for unlabelled frames."""
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    colours: dict[str, Any] = {name: palette[i % len(palette)] for i, name in enumerate(classes)}
    colours[UNLABELLED] = "#7f8c8d"
    return colours


def _slice_kinds(distribution: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Mapping]]]:
    """The distribution's slice kinds: site and split first, then the others (tags), sorted."""
    kinds = sorted(
        (k for k in distribution if k != "overall"),
        key=lambda k: (_SLICE_ORDER.index(k) if k in _SLICE_ORDER else len(_SLICE_ORDER), k),
    )
    return [(kind, distribution[kind]) for kind in kinds]


def _slice_name(kind: str) -> str:
    """``site``, ``split``; ``tag:lighting`` as ``lighting tag``."""
    return f"{kind.removeprefix('tag:')} tag" if kind.startswith("tag:") else kind


def _slice_bars(
    kind: str,
    by_slice: Mapping[str, Mapping[str, int]],
    classes: Sequence[str],
    colours: Mapping[str, Any],
) -> str | None:
    """Grouped bars of labelled frames per class in each slice; None when there are none."""
    values = sorted(by_slice)
    present = [c for c in classes if any(by_slice[v].get(c, 0) for v in values)]
    if not present:
        return None
    fig, ax = _axes()
    x = np.arange(len(values))
    width = 0.8 / len(present)
    for i, name in enumerate(present):
        counts = [by_slice[v].get(name, 0) for v in values]
        offset = (i - (len(present) - 1) / 2) * width
        ax.bar(x + offset, counts, width, label=name, color=colours[name])
    crowded = len(values) > 8
    ax.set_xticks(x, values, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    ax.set_xlabel(_slice_name(kind))
    ax.set_ylabel("labelled frames")
    ax.legend(title="class", fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return figure_uri(fig)


def _histogram(
    frames: pa.Table,
    column: str,
    *,
    title: str,
    xlabel: str,
    empty: str,
    classes: Sequence[str],
    colours: Mapping[str, Any],
    integer: bool,
) -> _Plot:
    """Step histograms of one per-frame statistic, one line per class, on shared bins."""
    groups = _values_per_class(frames, column, classes)
    if not groups:
        return _Plot(title=title, empty=empty)
    if integer:  # counts: bins a whole number wide, centred on integers
        low = math.floor(min(v.min() for v in groups.values()))
        high = math.ceil(max(v.max() for v in groups.values()))
        step = max(1, math.ceil((high - low + 1) / _HIST_BINS))
        bins = np.arange(low, high + step + 1, step) - 0.5
    else:  # shares: 0..1
        bins = np.linspace(0.0, 1.0, _HIST_BINS + 1)
    fig, ax = _axes()
    for name, values in groups.items():
        ax.hist(
            values,
            bins=bins,
            histtype="step",
            linewidth=1.8,
            color=colours[name],
            label=f"{name} ({len(values)})",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("frames")
    ax.legend(title="class (frames)", fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    ax.grid(alpha=0.3)
    return _Plot(title=title, uri=figure_uri(fig))


def _values_per_class(
    frames: pa.Table, column: str, classes: Sequence[str]
) -> dict[str, np.ndarray]:
    """A column's non-null, finite values per class in class order, then unlabelled frames."""
    if column not in frames.column_names or "label" not in frames.column_names:
        return {}
    keep = pc.is_valid(frames.column(column))
    values = pc.filter(frames.column(column), keep).cast(pa.float64()).to_numpy()
    labels = pc.filter(frames.column("label").cast(pa.string()), keep)
    labels = pc.fill_null(labels, UNLABELLED).to_numpy()
    finite = np.isfinite(values)
    values, labels = values[finite], labels[finite]
    found = set(labels.tolist())
    return {name: values[labels == name] for name in [*classes, UNLABELLED] if name in found}


def _axes() -> tuple[Figure, Axes]:
    """A new figure and its axes, drawn by Agg without pyplot's global state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_axisbelow(True)
    return fig, ax


IMAGES_SCRIPT = """\
<script>
  window.addEventListener("load", function () {
    var images = Array.prototype.slice.call(document.images);
    var loaded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
    document.body.dataset.images = loaded.length + "/" + images.length;
  });
</script>"""
"""Records in ``<body data-images="LOADED/TOTAL">`` how many images decoded, for the browser tests;
render it as ``{{ images_script }}``."""


def template_environment() -> jinja2.Environment:
    """The Jinja2 environment every HTML report renders in: autoescaped, strict, trimmed."""
    import jinja2

    return jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )


def figure_uri(fig: Figure) -> str:
    """A matplotlib figure as a PNG ``data:`` URI (shared by the evaluation report)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_EMBEDDED_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


def _image_uri(data: bytes) -> str | None:
    """A data URI a browser shows for an encoded image; None when the bytes do not decode."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decode it all: truncated bytes would show as a broken image
            mime = _EMBEDDED_FORMATS.get(image.format or "")
            if mime is None:  # a format browsers may not show (TIFF, BMP, ...): send PNG
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, format="PNG")
                data, mime = buffer.getvalue(), "image/png"
    except IMAGE_ERRORS:
        return None
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
