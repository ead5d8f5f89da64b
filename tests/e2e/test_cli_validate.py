"""`robotops validate` through the real entry point: exit codes, formats, the kept report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli_sim import robotops


def _dataset(tmp_path: Path, *faults: str) -> str:
    recs = tmp_path / "recs"
    sim = robotops(
        "sim", str(recs), "--recordings", "3", "--frames", "6", "--width", "48", "--height",
        "32", *faults,
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    store = str(tmp_path / "store")
    bags = sorted(str(p) for p in recs.iterdir() if p.is_dir())
    assert robotops("ingest", *bags, "--store", store).returncode == 0
    labels = sorted(str(p) for p in recs.glob("*.labels.json"))
    assert robotops("labels", "import", *labels, "--store", store).returncode == 0
    return store


def test_clean_dataset_exits_zero_and_keeps_its_report(tmp_path: Path) -> None:
    store = _dataset(tmp_path)
    result = robotops("validate", "--store", store, "--html", str(tmp_path / "report.html"))
    assert result.returncode == 0, result.stderr
    assert "validation of doors@2" in result.stdout and "0 failed" in result.stdout
    assert (tmp_path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    again = robotops("validate", "doors@2", "--json", "--store", store)
    data = json.loads(again.stdout)
    assert data["dataset"] == "doors@2" and data["failed"] is False
    assert {c["id"] for c in data["checks"]} >= {"labels.missing", "leakage.recording"}
    kept = robotops("validate", "--store", store)
    assert "kept report" in kept.stdout


def test_failing_checks_exit_ten_with_one_line(tmp_path: Path) -> None:
    store = _dataset(tmp_path, "--missing-labels", "0.4", "--seed", "3")
    result = robotops("validate", "--format", "markdown", "--store", store)
    assert result.returncode == 10
    assert result.stdout.startswith("### Validation of `doors@2`: ❌ failed")
    assert "| `labels.missing` | error | FAIL |" in result.stdout
    assert result.stderr.count("\n") == 1
    assert result.stderr.strip().endswith("failed validation: labels.missing")
    relaxed = tmp_path / "robotops.yaml"
    relaxed.write_text("checks:\n  labels.missing: {severity: warning}\n")
    result = robotops("validate", "--config", str(relaxed), "--store", store)
    assert result.returncode == 0 and "warn" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks:\n  labels.nope: {severity: warning}\n")
    result = robotops("validate", "--config", str(bad), "--store", store)
    assert result.returncode == 2 and "no such check" in result.stderr
