"""Evaluation reports: Markdown for pull requests, the gate's verdict, the HTML page, frame views.

The evaluation is built by hand from synthetic predictions with the project's own metrics, so no
model is trained; frame views are synthetic too, except where they are read from a real store.
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from robotops.dataset.store import Store
from robotops.evaluate.html import (
    FAILED_COLOUR,
    MAX_MISCLASSIFIED,
    PASSED_COLOUR,
    render_evaluation_html,
)
from robotops.evaluate.markdown import evaluation_markdown, gate_markdown
from robotops.evaluate.metrics import compute_metrics
from robotops.evaluate.results import (
    ALL_MODALITIES,
    BehaviourResult,
    Evaluation,
    FramePrediction,
    GateCheck,
    GateResult,
)
from robotops.evaluate.views import FrameViews, bird_eye, depth_colour, frame_views
from tests.browser import dump_dom, screenshot

CLASSES = ("glass_door", "wooden_door", "no_door")
N = 90
SCRIPT = "<script>alert('x')</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def synthetic_frames() -> tuple[np.ndarray, np.ndarray, list[dict[str, str]], list[str]]:
    """Labels, probabilities, tags and sites of N frames; half the night frames are wrong."""
    labels = np.arange(N) % 3
    night = (np.arange(N) // 3) % 3 == 0
    wrong = np.where(night, np.arange(N) % 2 == 0, np.arange(N) % 10 == 1)
    predicted = np.where(wrong, (labels + 1) % 3, labels)
    confidence = np.where(wrong, 0.55 + (np.arange(N) % 7) * 0.05, 0.6 + (np.arange(N) % 5) * 0.08)
    probs = np.repeat(((1 - confidence) / 2)[:, None], 3, axis=1)
    probs[np.arange(N), predicted] = confidence
    tags = [
        {"lighting": "night" if night[i] else "day", "note": SCRIPT if i % 2 else "plain"}
        for i in range(N)
    ]
    sites = ["atrium" if i < N // 2 else "lab" for i in range(N)]
    return labels, probs, tags, sites


def make_evaluation(*, failed: bool = True) -> Evaluation:
    labels, probs, tags, sites = synthetic_frames()
    overall = compute_metrics(labels, probs, CLASSES)
    slices: dict[str, dict[str, object]] = {}
    for key, values in (
        ("site", sites),
        ("lighting", [t["lighting"] for t in tags]),
        ("note", [t["note"] for t in tags]),
    ):
        column = np.asarray(values)
        slices[key] = {
            v: compute_metrics(labels[column == v], probs[column == v], CLASSES)
            for v in sorted(set(values))
        }
    no_lidar = probs.copy()
    no_lidar[::4] = np.roll(no_lidar[::4], 1, axis=1)  # a quarter more frames go wrong
    predictions = tuple(
        FramePrediction(
            frame_id=f"{sites[i]}-{i // 15}/{i:06d}",
            recording_id=f"{sites[i]}-{i // 15}",
            site=sites[i],
            tags=tags[i],
            label=CLASSES[labels[i]],
            predicted=CLASSES[int(probs[i].argmax())],
            confidence=float(probs[i].max()),
        )
        for i in range(N)
    )
    night = slices["lighting"]["night"].accuracy
    behaviour = [
        BehaviourResult(
            "flip",
            "predictions survive a horizontal flip",
            True,
            0.97,
            0.9,
            "97.0% of predictions unchanged",
        ),
        BehaviourResult(
            "drop.lidar", "accuracy with LiDAR dropped", None, None, 0.8, "the model reads no LiDAR"
        ),
        BehaviourResult(
            "slice.lighting=night",
            "accuracy at night",
            not failed,
            night,
            night - 0.1 if not failed else 0.8,
            f"night accuracy {night:.1%}",
        ),
    ]
    return Evaluation(
        model="door-classifier/3",
        architecture="fusion",
        run_id="0123abcd",
        dataset="doors@7",
        split="test",
        classes=CLASSES,
        overall=overall,
        slices=slices,  # type: ignore[arg-type]
        modalities={
            ALL_MODALITIES: overall,
            "rgb+depth": compute_metrics(labels, no_lidar, CLASSES),
        },
        behaviour=tuple(behaviour),
        predictions=predictions,
        created_at="2025-01-02T03:04:05Z",
    )


def make_views(ev: Evaluation) -> dict[str, FrameViews]:
    """Views for the misclassified frames; the first has none, the second no colour image."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:48, :64]
    depth = (500 + 40 * x + 10 * y).astype(np.uint16)
    depth[:, :6] = 0  # invalid band
    angle = np.linspace(-np.pi, np.pi, 400, endpoint=False)
    cloud = np.stack([4 * np.cos(angle), 2 * np.sin(angle), np.zeros_like(angle)], 1)
    views = {}
    for k, p in enumerate(ev.misclassified()):
        rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        views[p.frame_id] = FrameViews(
            rgb=None if k == 1 else rgb, depth_mm=depth, lidar_xyz=cloud.astype(np.float32)
        )
    del views[ev.misclassified()[0].frame_id]
    return views


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return make_evaluation()


@pytest.fixture(scope="module")
def page(evaluation: Evaluation) -> str:
    return render_evaluation_html(evaluation, make_views(evaluation))


def img_sources(html: str) -> list[str]:
    return re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', html)


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"### {heading}", 1)[1].split("\n### ", 1)[0]


def test_markdown_shows_headline_tables_and_the_worst_slice_first(evaluation: Evaluation) -> None:
    text = evaluation_markdown(evaluation)
    m = evaluation.overall
    assert text.startswith("## Evaluation of `door-classifier/3` on `doors@7` (test)")
    assert f"**accuracy {m.accuracy:.1%}**" in text
    assert f"macro-F1 {m.macro_f1:.3f}" in text and f"ECE {m.ece:.3f}" in text
    assert "1 FAILED, 1 passed, 1 not run" in text
    glass = m.per_class["glass_door"]
    assert (
        f"| glass_door | {glass.precision:.3f} | {glass.recall:.3f} | {glass.f1:.3f} | "
        f"{glass.support} |" in text
    )
    row = " | ".join(str(n) for n in m.confusion[0])
    assert f"| **glass_door** | {row} |" in section(text, "Confusion matrix")
    slices = section(text, "Slices, worst first").strip().splitlines()[2:]
    assert slices[0].startswith("| `lighting=night` |")  # the worst slice heads the table
    night = evaluation.slices["lighting"]["night"]
    assert f"{night.accuracy:.1%} | {(night.accuracy - m.accuracy) * 100:+.1f} pt" in slices[0]
    accuracies = [float(line.split(" | ")[2].rstrip("%")) for line in slices]
    assert accuracies == sorted(accuracies)
    assert "| `rgb+depth` |" in section(text, "Modality subsets")
    behaviour = section(text, "Behavioural tests")
    assert "| `slice.lighting=night` | **FAIL** |" in behaviour
    assert "| `flip` | pass | 0.970 | 0.900 |" in behaviour
    assert "| `drop.lidar` | not run |" in behaviour


def test_markdown_escapes_what_came_from_data(evaluation: Evaluation) -> None:
    text = evaluation_markdown(
        replace(evaluation, slices={"note": {"a|b <i>x</i>": evaluation.overall}})
    )
    assert "`note=a\\|b <i>x</i>`" in text  # in a code span: shown as is, no column break
    assert "<" not in re.sub(r"`[^`]*`", "", text)  # and nowhere else
    detail = replace(evaluation.behaviour[0], detail="<b>bold</b> | *stars*")
    text = evaluation_markdown(replace(evaluation, behaviour=(detail,)))
    assert "&lt;b&gt;bold&lt;/b&gt; \\| \\*stars\\*" in text
    for line in section(text, "Slices, worst first").strip().splitlines():
        assert len(re.findall(r"(?<!\\)\|", line)) == 7  # six columns in every row


def test_a_stored_evaluation_renders_the_same_reports(evaluation: Evaluation) -> None:
    stored = json.loads(json.dumps(evaluation.to_dict()))
    again = Evaluation.from_dict(stored)
    assert evaluation_markdown(again) == evaluation_markdown(evaluation)
    views = make_views(evaluation)
    assert render_evaluation_html(again, views) == render_evaluation_html(evaluation, views)


def make_gate(*, passed: bool, champion: str | None = "door-classifier/3") -> GateResult:
    checks = [
        GateCheck("overall", True, 0.912, 0.905, 0.895, "accuracy 0.912 vs 0.905 - 0.010"),
        GateCheck(
            "slice:lighting=night",
            passed,
            0.700 if not passed else 0.890,
            0.900,
            0.850,
            "accuracy at night vs the champion's, tolerance 0.050",
        ),
        GateCheck("behaviour:flip", True, 0.97, None, 0.9, "flip invariance"),
    ]
    return GateResult(
        challenger="door-classifier/4",
        champion=champion,
        dataset="doors@7",
        split="test",
        metric="accuracy",
        checks=tuple(checks),
        created_at="2025-01-02T03:04:05Z",
    )


def test_gate_markdown_puts_the_verdict_and_the_regressed_slice_first() -> None:
    text = gate_markdown(make_gate(passed=False))
    first = text.splitlines()[0]
    assert first == ("## Gate REFUSED: `door-classifier/4` must not replace `door-classifier/3`")
    assert "1 of 3 checks failed" in text
    failed = section(text, "Failed checks")
    assert "`slice:lighting=night`" in failed
    assert "0.700 vs the champion's 0.900 (-0.200), below the limit 0.850 by 0.150" in failed
    assert "overall" not in failed
    rows = [r for r in section(text, "All checks").splitlines() if r.startswith("| `")]
    assert rows[0].startswith("| `slice:lighting=night` | **FAIL** |")
    assert [r.split(" | ")[1] for r in rows[1:]] == ["pass", "pass"]
    assert "| `overall` | pass | 0.912 | 0.905 | +0.007 | 0.895 |" in text
    # Stored and read back, the decision renders the same.
    assert gate_markdown(GateResult.from_dict(make_gate(passed=False).to_dict())) == text


def test_gate_markdown_when_passed_and_without_a_champion() -> None:
    text = gate_markdown(make_gate(passed=True))
    assert text.startswith("## Gate PASSED: `door-classifier/4` may replace `door-classifier/3`")
    assert "### Failed checks" not in text and "0 of 3 checks failed" in text
    alone = gate_markdown(make_gate(passed=False, champion=None))
    assert alone.startswith("## Gate REFUSED: `door-classifier/4` must not be promoted")
    assert "against absolute thresholds (no champion yet)" in alone


def test_page_is_self_contained_escaped_and_complete(evaluation: Evaluation, page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)\s*=\s*"?\s*(https?:)?//', page), "external reference"
    assert "url(" not in page and "@import" not in page
    assert "<script>alert" not in page and ESCAPED_SCRIPT in page  # tag values are text
    assert "Behavioural tests FAILED" in page and 'class="verdict failed"' in page
    assert f"{evaluation.overall.accuracy:.1%}" in page
    assert 'id="behaviour-slice.lighting=night"' in page and "not run" in page
    wrong = evaluation.misclassified()
    shown = wrong[:MAX_MISCLASSIFIED]
    assert page.count("<figure>") == len(shown)
    positions = [page.index(p.frame_id) for p in shown]
    assert positions == sorted(positions)  # most confident first
    assert page.count("no colour image") == 2  # one frame without views, one without colour
    sources = img_sources(page)
    # Confusion, calibration, slices and modalities, then 3 views per card less the missing.
    assert len(sources) == 4 + 3 * len(shown) - 4
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            image.load()
    assert "No data" not in page


def test_every_image_decodes_in_the_browser(page: str, tmp_path: Path) -> None:
    html = tmp_path / "evaluation.html"
    html.write_text(page, encoding="utf-8")
    dom = dump_dom(html)
    match = re.search(r'<body[^>]*\bdata-images="(\d+)/(\d+)"', dom)
    assert match, "the load handler did not run: " + dom[:300]
    loaded, total = int(match[1]), int(match[2])
    assert total == len(img_sources(page)) and loaded == total


@pytest.mark.parametrize("failed", [True, False], ids=["failed", "passed"])
def test_screenshot_shows_the_verdict_in_its_colour(failed: bool, tmp_path: Path) -> None:
    ev = make_evaluation(failed=failed)
    html = tmp_path / "evaluation.html"
    html.write_text(render_evaluation_html(ev, make_views(ev)), encoding="utf-8")
    shot = screenshot(html, tmp_path / "evaluation.png", width=1280, height=900)
    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.reshape(-1, 3).std(axis=0).max() > 20, "blank page"
    banner = pixels[:120]

    def share(colour: str) -> float:
        return float(np.all(banner == hex_rgb(colour), axis=-1).mean())

    shown, other = (FAILED_COLOUR, PASSED_COLOUR) if failed else (PASSED_COLOUR, FAILED_COLOUR)
    assert share(shown) > 0.2, f"verdict colour {shown} missing from the banner"
    assert share(other) < 0.01


def test_an_empty_evaluation_renders_as_no_data() -> None:
    empty = compute_metrics(np.zeros(0, np.int64), np.zeros((0, 3)), CLASSES)
    ev = replace(
        make_evaluation(),
        overall=empty,
        slices={},
        modalities={},
        behaviour=(),
        predictions=(),
    )
    page = render_evaluation_html(ev, {})
    assert img_sources(page) == []
    assert "Behavioural tests PASSED" in page and "No behavioural tests ran" in page
    assert "every frame was classified right" in page and "no slices" in page
    text = evaluation_markdown(ev)
    assert "behavioural tests: none ran" in text and "No data." in text


def test_depth_in_false_colour_and_lidar_from_above() -> None:
    depth = np.array([[0, 1000], [2000, 3000]], dtype=np.uint16)
    colour = depth_colour(depth)
    assert colour.shape == (2, 2, 3) and colour.dtype == np.uint8
    assert (colour[0, 0] == 0).all() and (colour[1, 1] != colour[0, 1]).any()
    assert (depth_colour(np.zeros((3, 4), np.uint16)) == 0).all()

    ahead = np.array([[5.0, 0.0, 0.0]], np.float32)  # 5 m forward
    left = np.array([[0.0, 5.0, 0.0]], np.float32)  # 5 m to the left
    for cloud, where in ((ahead, "up"), (left, "left")):
        image, range_m = bird_eye(cloud, 65)
        assert image.shape == (65, 65, 3) and range_m == 5.0
        rows, cols = np.nonzero(np.all(image == (31, 58, 147), axis=-1))
        assert len(rows) == 1
        assert (rows[0], cols[0]) == ((0, 32) if where == "up" else (32, 0))
    assert bird_eye(np.full((2, 3), np.nan, np.float32))[1] == 1.0


def test_frame_views_reads_the_chosen_frames_of_a_real_store(
    split_store: tuple[Store, str],
) -> None:
    store, ref = split_store
    snapshot = store.snapshot(ref)
    points = {
        r["frame_id"]: r["lidar_points"]
        for r in snapshot.frames(["frame_id", "lidar_points"]).to_pylist()
    }
    ids = snapshot.index().column("frame_id").to_pylist()  # recording and time order
    chosen = [ids[5], ids[0], "no-such/frame"]  # the first frame of a recording has no LiDAR
    views = frame_views(snapshot, chosen)
    assert list(views) == [ids[5], ids[0]]
    for frame_id, v in views.items():
        assert v.rgb is not None and v.rgb.dtype == np.uint8 and v.rgb.shape == (48, 64, 3)
        assert v.depth_mm is not None and v.depth_mm.dtype == np.uint16
        assert v.depth_mm.ndim == 2 and (v.depth_mm > 0).any()
        if points[frame_id] is None:
            assert v.lidar_xyz is None
        else:
            assert v.lidar_xyz is not None and v.lidar_xyz.dtype == np.float32
            assert v.lidar_xyz.shape == (points[frame_id], 3)
    assert views[ids[5]].lidar_xyz is not None and views[ids[0]].lidar_xyz is None
    assert frame_views(snapshot, []) == {}
