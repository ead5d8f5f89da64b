"""An evaluation as one self-contained HTML page: verdict, metrics, plots, misclassified frames.

Like the validation report (:mod:`robotops.validate.html`), everything is inside the document:
plots and frame views are PNGs in ``data:`` URIs and the style sheet is inline, so the page opens
offline from a ``file://`` path or a CI artifact. The only script records, once the page has
loaded, how many images decoded (``<body data-images="LOADED/TOTAL">``), for the browser test.
The page reads the :class:`~robotops.evaluate.results.Evaluation` record only, plus the views of
the misclassified frames, so a stored ``evaluation.json`` renders the same page.

Matplotlib and Jinja2 are imported when a page is rendered, not when this module is imported.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from robotops.evaluate.metrics import CALIBRATION_BINS, reliability
from robotops.evaluate.results import ALL_MODALITIES, Evaluation, FramePrediction
from robotops.evaluate.views import FrameViews, bird_eye, depth_colour
from robotops.validate.html import (
    BASE_CSS,
    FAILED_COLOUR,
    IMAGES_SCRIPT,
    PASSED_COLOUR,
    WARN_COLOUR,
    figure_uri,
    template_environment,
)

if TYPE_CHECKING:
    pass

__all__ = ["FAILED_COLOUR", "MAX_MISCLASSIFIED", "PASSED_COLOUR", "render_evaluation_html"]

MAX_MISCLASSIFIED = 24
"""Misclassified frames shown, most confident first."""

_SKIPPED_COLOUR = "#7f8c8d"
_BAR_COLOUR = "#2e86c1"
_DPI = 100
_THUMB_PX = (240, 180)  # largest colour and depth thumbnails embedded
_BEV_PX = 128

_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation of {{ ev.model }} on {{ ev.dataset }}: {{ verdict }}</title>
<style>
  :root { --failed: {{ colours.failed }}; --passed: {{ colours.passed }};
          --warn: {{ colours.warn }}; --skipped: {{ colours.skipped }};
          --line: #d5d8dc; --muted: #5d6d7e; }
{{ base_css }}
  .headline { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
  .headline div { border: 1px solid var(--line); border-radius: 6px; padding: 8px 16px;
                  min-width: 150px; }
  .headline b { display: block; font-size: 24px; font-variant-numeric: tabular-nums; }
  .headline span { color: var(--muted); font-size: 13px; }
  table.narrow { width: auto; min-width: 420px; }
  tr.pass td.status { color: var(--passed); }
  tr.FAIL td.status { color: var(--failed); }
  tr.skipped td.status { color: var(--skipped); }
  td.below { color: var(--failed); }
  .grid { display: flex; flex-wrap: wrap; gap: 14px; }
  figure { margin: 0; width: 336px; border: 1px solid var(--line); border-radius: 6px;
           padding: 6px; }
  .views { display: flex; gap: 6px; }
  .views img, .views .missing { display: block; width: 102px; height: 88px;
           object-fit: contain; background: #eaeded; }
  .views .missing { display: flex; align-items: center; justify-content: center;
           color: var(--muted); font-size: 11px; text-align: center; }
  figcaption { font-size: 12px; margin-top: 4px; word-break: break-word; }
  figcaption .wrong { color: var(--failed); font-weight: 600; }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<main>
<header class="verdict {{ verdict }}">
  <h1>Behavioural tests {{ verdict | upper }}: <code>{{ ev.model }}</code></h1>
  <p>{{ ev.dataset }} ({{ ev.split }}) &middot; accuracy {{ m.accuracy | pct }} &middot;
     {{ m.frames }} frames &middot; {{ behaviour_summary }}</p>
</header>

<dl class="meta">
  <dt>model</dt><dd><code>{{ ev.model }}</code> ({{ ev.architecture }})</dd>
  <dt>run</dt><dd><code>{{ ev.run_id or "unknown" }}</code></dd>
  <dt>dataset</dt><dd><code>{{ ev.dataset }}</code>, split <code>{{ ev.split }}</code></dd>
  <dt>classes</dt><dd>{{ ev.classes | join(", ") or "none" }}</dd>
  <dt>created</dt><dd>{{ ev.created_at }}</dd>
</dl>

<div class="headline">
  <div><b>{{ m.accuracy | pct }}</b><span>accuracy</span></div>
  <div><b>{{ m.macro_f1 | num }}</b><span>macro-F1</span></div>
  <div><b>{{ m.ece | num }}</b><span>expected calibration error</span></div>
  <div><b>{{ m.frames }}</b><span>frames</span></div>
  <div><b>{{ misclassified_count }}</b><span>misclassified</span></div>
</div>

<h2>Per class</h2>
<table class="narrow">
  <thead><tr><th>class</th><th class="num">precision</th><th class="num">recall</th>
  <th class="num">F1</th><th class="num">support</th></tr></thead>
  <tbody>
  {% for name, c in m.per_class.items() %}
  <tr><td>{{ name }}</td><td class="num">{{ c.precision | num }}</td>
  <td class="num">{{ c.recall | num }}</td><td class="num">{{ c.f1 | num }}</td>
  <td class="num">{{ c.support }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{% for plot in plots %}
<h2>{{ plot.title }}</h2>
{% if plot.uri %}<img class="plot" src="{{ plot.uri }}" alt="{{ plot.title }}">{%
else %}<p class="nodata">No data: {{ plot.empty }}.</p>{% endif %}
{% if plot.rows %}
<table class="narrow">
  <thead><tr><th>{{ plot.what }}{{ " (worst first)" if plot.what == "slice" }}</th>
  <th class="num">frames</th><th class="num">accuracy</th>
  <th class="num">macro-F1</th><th class="num">ECE</th></tr></thead>
  <tbody>
  {% for name, sub in plot.rows %}
  <tr><td><code>{{ name }}</code></td><td class="num">{{ sub.frames }}</td>
  <td class="num{{ ' below' if sub.accuracy < plot.baseline }}">{{ sub.accuracy | pct }}</td>
  <td class="num">{{ sub.macro_f1 | num }}</td><td class="num">{{ sub.ece | num }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{% endif %}
{% endfor %}

<h2>Behavioural tests</h2>
{% if ev.behaviour %}
<table>
  <thead><tr><th>test</th><th>status</th><th class="num">measured</th>
  <th class="num">threshold</th><th>detail</th></tr></thead>
  <tbody>
  {% for b in ev.behaviour %}
  {% set status = {True: "pass", False: "FAIL", None: "skipped"}[b.passed] %}
  <tr class="{{ status }}" id="behaviour-{{ b.id }}">
    <td><code>{{ b.id }}</code><br><span class="muted">{{ b.description }}</span></td>
    <td class="status">{{ "not run" if b.passed is none else status }}</td>
    <td class="num">{{ b.measured | num }}</td><td class="num">{{ b.threshold | num }}</td>
    <td>{{ b.detail }}</td>
  </tr>
  {% endfor %}
  </tbody>
</table>
{% else %}
<p class="nodata">No behavioural tests ran.</p>
{% endif %}

<h2>Misclassified frames{% if cards %}, most confident first{% endif %}</h2>
{% if cards %}
{% if misclassified_count > cards | length %}
<p>The {{ cards | length }} most confident of {{ misclassified_count }}.</p>
{% endif %}
<p class="muted">Each frame: its colour image, its depth (near blue, far red, invalid black) and
its LiDAR returns from above (forward up, left to the left, the sensor in red); then the true
class &rarr; the predicted class, at the model's confidence.</p>
<div class="grid">
  {% for card in cards %}
  <figure>
    <div class="views">
      {% for view in card.views %}
      {% if view.uri %}<img src="{{ view.uri }}" alt="{{ view.name }}" title="{{ view.name }}">{%
      else %}<div class="missing">no {{ view.name }}</div>{% endif %}
      {% endfor %}
    </div>
    <figcaption>
      <span class="wrong" title="true &rarr; predicted">{{ card.p.label }} &rarr; {{
        card.p.predicted }}</span>
      at {{ card.p.confidence | pct }}<br>
      <code>{{ card.p.frame_id }}</code><br>
      <span class="muted">site {{ card.p.site }}{% for key, value in card.p.tags | dictsort %}
      &middot; {{ key }}={{ value }}{% endfor %}{% if card.range_m %}
      &middot; LiDAR &plusmn;{{ card.range_m }} m{% endif %}</span>
    </figcaption>
  </figure>
  {% endfor %}
</div>
{% else %}
<p class="nodata">No data: every frame was classified right.</p>
{% endif %}
</main>
{{ images_script }}
</body>
</html>
"""


@dataclass(frozen=True)
class _Plot:
    title: str
    uri: str | None
    empty: str = ""  # why there is nothing to plot
    what: str = ""  # the table's first column
    rows: tuple[tuple[str, object], ...] = ()  # (name, Metrics) under the plot
    baseline: float = 0.0  # accuracies below it are marked


@dataclass(frozen=True)
class _View:
    name: str
    uri: str | None


@dataclass(frozen=True)
class _Card:
    p: FramePrediction
    views: tuple[_View, ...]
    range_m: int | None


def render_evaluation_html(ev: Evaluation, views: Mapping[str, FrameViews]) -> str:
    """Render an evaluation as one self-contained HTML document.

    Args:
        ev: The evaluation.
        views: Sensor views by frame id, for the misclassified frames shown (the first
            :data:`MAX_MISCLASSIFIED` of ``ev.misclassified()``); a frame or view missing here is
            shown as missing.

    Returns:
        The HTML document.
    """
    from markupsafe import Markup

    m = ev.overall
    wrong = ev.misclassified()
    slices = sorted(
        (
            (f"{key}={value}", sub)
            for key, values in ev.slices.items()
            for value, sub in values.items()
        ),
        key=lambda item: (item[1].accuracy, -item[1].frames, item[0]),
    )
    all_sensors = ev.modalities.get(ALL_MODALITIES, m).accuracy
    env = template_environment()
    env.filters["pct"] = lambda x: "-" if x is None else f"{x:.1%}"
    env.filters["num"] = _number
    return env.from_string(_TEMPLATE).render(
        base_css=Markup(BASE_CSS),
        images_script=Markup(IMAGES_SCRIPT),
        ev=ev,
        m=m,
        verdict="passed" if ev.behaviour_passed else "failed",
        behaviour_summary=_behaviour_summary(ev),
        colours={
            "failed": FAILED_COLOUR,
            "passed": PASSED_COLOUR,
            "warn": WARN_COLOUR,
            "skipped": _SKIPPED_COLOUR,
        },
        misclassified_count=len(wrong),
        plots=[
            _Plot("Confusion matrix", _confusion_uri(ev), empty="no frames scored"),
            _Plot("Calibration", _reliability_uri(ev), empty="no frames scored"),
            _Plot(
                "Accuracy per slice",
                _slice_uri(ev),
                empty="no slices",
                what="slice",
                rows=tuple(slices),
                baseline=m.accuracy,
            ),
            _Plot(
                "Accuracy per modality subset",
                _modality_uri(ev),
                empty="no modality subsets scored",
                what="sensors",
                rows=tuple(ev.modalities.items()),
                baseline=all_sensors,
            ),
        ],
        cards=[_card(p, views.get(p.frame_id)) for p in wrong[:MAX_MISCLASSIFIED]],
    )


def _behaviour_summary(ev: Evaluation) -> str:
    if not ev.behaviour:
        return "no behavioural tests ran"
    failed = sum(b.passed is False for b in ev.behaviour)
    passed = sum(b.passed is True for b in ev.behaviour)
    skipped = len(ev.behaviour) - failed - passed
    text = f"{failed} failed, {passed} passed"
    return text + (f", {skipped} not run" if skipped else "")


def _confusion_uri(ev: Evaluation) -> str | None:
    from robotops.train.confusion import confusion_figure

    if not ev.overall.frames or not ev.classes:
        return None
    matrix = np.asarray(ev.overall.confusion, dtype=np.int64)
    return figure_uri(confusion_figure(matrix, ev.classes, f"{ev.model} on {ev.dataset}"))


def _reliability_uri(ev: Evaluation) -> str | None:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration."""
    from matplotlib.figure import Figure

    if not ev.predictions:
        return None
    confidence = np.array([p.confidence for p in ev.predictions], dtype=np.float64)
    correct = np.array([p.correct for p in ev.predictions], dtype=bool)
    mean_conf, accuracy, counts = reliability(confidence, correct, CALIBRATION_BINS)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    width = 1.0 / CALIBRATION_BINS
    fig = Figure(figsize=(6, 5.2), dpi=_DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    filled = counts > 0
    top.bar(
        edges[:-1][filled],
        accuracy[filled],
        width,
        align="edge",
        color=_BAR_COLOUR,
        edgecolor="white",
        label="accuracy",
    )
    top.plot(
        mean_conf[filled], accuracy[filled], "o", color="#1c2833", ms=4, label="mean confidence"
    )
    top.plot([0, 1], [0, 1], "--", color="#7f8c8d", label="perfect calibration")
    top.set(ylim=(0, 1.02), ylabel="accuracy", title=f"ECE {ev.overall.ece:.3f}")
    top.legend(loc="upper left", fontsize="small")
    top.grid(alpha=0.3)
    bottom.bar(edges[:-1], counts, width, align="edge", color="#aab7b8", edgecolor="white")
    bottom.set(xlim=(0, 1), xlabel="confidence of the predicted class", ylabel="frames")
    return figure_uri(fig)


def _slice_uri(ev: Evaluation) -> str | None:
    """One panel per slice key, a bar per value, the overall accuracy as a dashed line."""
    from matplotlib.figure import Figure

    keys = [key for key in sorted(ev.slices) if ev.slices[key]]
    if not keys:
        return None
    cols = min(len(keys), 3)
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(3.6 * cols + 0.6, 3.2 * rows), dpi=_DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, key in zip(axes, keys, strict=False):  # spare panels are hidden below
        values = sorted(ev.slices[key])
        accuracy = [ev.slices[key][v].accuracy for v in values]
        bars = ax.bar(range(len(values)), accuracy, color=_BAR_COLOUR)
        ax.bar_label(bars, [f"n={ev.slices[key][v].frames}" for v in values], fontsize=8)
        ax.axhline(ev.overall.accuracy, color=FAILED_COLOUR, ls="--", lw=1.2, label="overall")
        crowded = len(values) > 4
        ax.set_xticks(
            range(len(values)),
            [_short(v) for v in values],
            rotation=30 if crowded else 0,
            ha="right" if crowded else "center",
        )
        ax.set(ylim=(0, 1.1), title=key, ylabel="accuracy")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].legend(loc="lower left", fontsize="small")
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    return figure_uri(fig)


def _modality_uri(ev: Evaluation) -> str | None:
    """Accuracy per modality subset as horizontal bars, all sensors' accuracy as a line."""
    from matplotlib.figure import Figure

    if not ev.modalities:
        return None
    names = list(ev.modalities)
    accuracy = [ev.modalities[n].accuracy for n in names]
    fig = Figure(figsize=(8, 0.5 * len(names) + 1.2), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    bars = ax.barh(range(len(names)), accuracy, color=_BAR_COLOUR)
    ax.bar_label(bars, [f"{a:.1%}" for a in accuracy], padding=3, fontsize=8)
    reference = ev.modalities.get(ALL_MODALITIES, ev.overall).accuracy
    ax.axvline(reference, color=FAILED_COLOUR, ls="--", lw=1.2, label="all sensors")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()  # in the evaluation's order, top down
    ax.set(xlim=(0, 1.12), xlabel="accuracy")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return figure_uri(fig)


def _card(p: FramePrediction, views: FrameViews | None) -> _Card:
    """A misclassified frame's colour, depth and LiDAR views as PNG data URIs."""
    views = views or FrameViews()
    rgb = None if views.rgb is None else _array_uri(views.rgb, _THUMB_PX)
    depth = None if views.depth_mm is None else _array_uri(depth_colour(views.depth_mm), _THUMB_PX)
    lidar, range_m = None, None
    if views.lidar_xyz is not None:
        image, range_m = bird_eye(views.lidar_xyz, _BEV_PX)
        lidar = _array_uri(image, (_BEV_PX, _BEV_PX))
    named = (("colour image", rgb), ("depth", depth), ("LiDAR top view", lidar))
    return _Card(
        p, tuple(_View(n, uri) for n, uri in named), None if range_m is None else int(range_m)
    )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _short(value: str, limit: int = 18) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _array_uri(pixels: np.ndarray, max_size: tuple[int, int]) -> str:
    """An RGB uint8 array as a PNG data URI, shrunk to fit ``max_size`` (width, height)."""
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    image.thumbnail(max_size)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
