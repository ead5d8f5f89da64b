"""The HTML report: self-contained, escaped, every image decodes, the verdict shows in colour."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from robotops.validate.html import FAILED_COLOUR, PASSED_COLOUR, render_html
from robotops.validate.report import CheckResult, ValidationReport
from robotops.validate.rules import Severity
from tests.browser import dump_dom, screenshot

CLASSES = ("glass_door", "wooden_door", "no_door")
SITES = ("atrium", "lab")
SAMPLES_PER_CLASS = 4
SCRIPT_SUMMARY = "depth < 10% in 7 frames <script>alert('x')</script>"


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def png(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    """A small PNG: a colour field with a darker diagonal band, like a door frame."""
    pixels = np.empty((size[1], size[0], 3), dtype=np.uint8)
    pixels[:] = rgb
    y, x = np.mgrid[: size[1], : size[0]]
    pixels[abs(x - y) < 6] //= 2
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def make_report(*, failed: bool) -> ValidationReport:
    checks = (
        CheckResult(
            "labels.missing",
            "frames without a label",
            Severity.ERROR,
            passed=not failed,
            value=0.1 if failed else 0.0,
            threshold=0.02,
            summary="12 of 120 frames (10.0%) have no label" if failed else "every frame labelled",
            details=("atrium: 12 frames", "lab: 0 frames") if failed else (),
            frames=("atrium-0-002/000003", "atrium-0-002/000004") if failed else (),
        ),
        CheckResult(
            "sensors.depth_validity",
            "depth images with too few valid pixels",
            Severity.WARNING,
            passed=False,
            value=0.06,
            threshold=0.05,
            summary=SCRIPT_SUMMARY,
            details=("lab: 7 frames",),
            frames=("lab-0-001/000010",),
        ),
        CheckResult(
            "leakage.recording",
            "recordings in more than one split",
            Severity.ERROR,
            passed=True,
            value=0,
            threshold=0,
            summary="no recording is in more than one split",
        ),
    )
    per_site = {
        "atrium": {"glass_door": 20, "wooden_door": 14, "no_door": 6},
        "lab": {"glass_door": 18, "wooden_door": 22, "no_door": 28},
    }
    return ValidationReport(
        dataset="doors@3",
        frames=120,
        created_at="2025-01-02T03:04:05Z",
        settings_digest="0f3a9c",
        classes=CLASSES,
        checks=checks,
        distribution={
            "overall": {c: sum(site[c] for site in per_site.values()) for c in CLASSES},
            "site": per_site,
            "split": {
                "train": {"glass_door": 30, "wooden_door": 28, "no_door": 26},
                "test": {"glass_door": 8, "wooden_door": 8, "no_door": 8},
            },
            "tag:lighting": {"day": {"glass_door": 25, "no_door": 20}, "night": {"wooden_door": 9}},
        },
    )


def make_frames(n: int = 120) -> pa.Table:
    """Per-frame stats: each class its own depth validity and LiDAR returns; some nulls."""
    rng = np.random.default_rng(7)
    labels = rng.choice([*CLASSES, None], size=n, p=[0.3, 0.3, 0.3, 0.1])
    depth_centre = {"glass_door": 0.45, "wooden_door": 0.85, "no_door": 0.7, None: 0.6}
    lidar_centre = {"glass_door": 300, "wooden_door": 900, "no_door": 600, None: 500}
    depth = [float(np.clip(rng.normal(depth_centre[label], 0.1), 0, 1)) for label in labels]
    lidar = [int(max(0, rng.normal(lidar_centre[label], 80))) for label in labels]
    depth = [None if i % 11 == 0 else d for i, d in enumerate(depth)]  # frames without depth
    lidar = [None if i % 13 == 0 else n for i, n in enumerate(lidar)]  # or without a cloud
    return pa.table(
        {
            "frame_id": [f"rec-{i // 20}/{i:06d}" for i in range(n)],
            "label": pa.array(labels.tolist(), pa.string()),
            "depth_valid": pa.array(depth, pa.float32()),
            "lidar_finite": pa.array(lidar, pa.int32()),
        }
    )


def make_samples() -> dict[str, list[tuple[str, bytes]]]:
    colours = {
        "glass_door": (120, 180, 220),
        "wooden_door": (150, 100, 60),
        "no_door": (90, 90, 90),
    }
    return {
        name: [(f"{name}-rec/{i:06d}", png(rgb)) for i in range(SAMPLES_PER_CLASS)]
        for name, rgb in colours.items()
    }


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(make_report(failed=True), make_frames(), make_samples())


def img_sources(html: str) -> list[str]:
    return re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', html)


def test_page_is_self_contained_escaped_and_complete(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)\s*=\s*"?\s*(https?:)?//', page), "external reference"
    assert "url(" not in page and "@import" not in page
    # The summary's markup is text, not a script.
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    for check_id in ("labels.missing", "sensors.depth_validity", "leakage.recording"):
        assert f"<code>{check_id}</code>" in page
    assert "atrium-0-002/000003" in page and "lab: 7 frames" in page
    sources = img_sources(page)
    # 3 classes x samples, bars per site, split and lighting tag, depth and LiDAR histograms.
    assert len(sources) == len(CLASSES) * SAMPLES_PER_CLASS + 3 + 2
    assert all(
        src.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for src in sources
    )
    for src in sources:
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            image.load()
    assert "No data" not in page


def test_every_image_decodes_in_the_browser(page: str, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    dom = dump_dom(html)
    match = re.search(r'<body[^>]*\bdata-images="(\d+)/(\d+)"', dom)
    assert match, "the load handler did not run: " + dom[:300]
    loaded, total = int(match[1]), int(match[2])
    assert total == len(img_sources(page)) and loaded == total


@pytest.mark.parametrize("failed", [True, False], ids=["failed", "passed"])
def test_screenshot_shows_the_verdict_in_its_colour(failed: bool, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    html.write_text(
        render_html(make_report(failed=failed), make_frames(), make_samples()), encoding="utf-8"
    )
    shot = screenshot(html, tmp_path / "report.png", width=1280, height=900)
    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.reshape(-1, 3).std(axis=0).max() > 20, "blank page"
    banner = pixels[:150]  # the verdict banner spans the top of the page

    def share(colour: str) -> float:
        return float(np.all(banner == hex_rgb(colour), axis=-1).mean())

    shown, other = (FAILED_COLOUR, PASSED_COLOUR) if failed else (PASSED_COLOUR, FAILED_COLOUR)
    assert share(shown) > 0.2, f"verdict colour {shown} missing from the banner"
    assert share(other) < 0.01


def test_renders_a_dataset_without_labels_depth_or_lidar() -> None:
    n = 5
    frames = pa.table(
        {
            "label": pa.nulls(n, pa.string()),
            "depth_valid": pa.nulls(n, pa.float32()),
            "lidar_finite": pa.nulls(n, pa.int32()),
        }
    )
    report = replace(make_report(failed=True), distribution={"overall": {}, "site": {}})
    html = render_html(report, frames, {})
    assert img_sources(html) == []
    assert "no frame is labelled" in html and "no sample images" in html
    assert "no frame has depth" in html and "no frame has a LiDAR cloud" in html
    # Columns missing altogether, and no rows at all, read as no data too.
    empty = render_html(replace(report, checks=(), distribution={}), pa.table({}), {})
    assert "No checks ran" in empty and "no frame has depth" in empty


def test_samples_embed_as_browsers_show_them() -> None:
    def encoded(fmt: str) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, format=fmt)
        return buffer.getvalue()

    jpeg, bmp = encoded("JPEG"), encoded("BMP")
    samples = {
        "glass_door": [("a/1", png((1, 2, 3))), ("a/2", jpeg)],
        "no_door": [("b/1", bmp), ("b/2", png((1, 2, 3))[:40]), ("b/3", b"not an image")],
    }
    html = render_html(make_report(failed=False), make_frames(), samples)
    sources = re.findall(r'<figure>\s*<img src="([^"]*)"', html)  # the sample grid's images
    kinds = [src.split(";", 1)[0] for src in sources]
    assert kinds == ["data:image/png", "data:image/jpeg", "data:image/png"]  # BMP sent as PNG
    assert base64.b64decode(sources[1].split(",", 1)[1]) == jpeg  # embedded as it is
    assert html.count("does not decode") == 2  # truncated and garbage bytes
