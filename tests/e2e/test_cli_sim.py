"""`robotops sim` and `robotops demo` as a user runs them, through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from robotops.dataset.store import Store
from robotops.demo import DEMO_SITES, FRAMES, HELD_OUT, MARKER, NIGHT_RECORDINGS, RECORDINGS
from robotops.registry import Registry
from robotops.serve.predlog import read_log
from robotops.sim import SimConfig, simulate
from robotops.train.params import load_params


def robotops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "robotops", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_help_lists_the_commands() -> None:
    result = robotops("--help")
    assert result.returncode == 0
    assert "sim" in result.stdout and "demo" in result.stdout
    sim_help = robotops("sim", "--help")
    assert "--format" in sim_help.stdout and "unseen-N" in sim_help.stdout


def test_sim_writes_recordings_and_reports_them(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    result = robotops(
        "sim",
        str(out),
        "--site",
        "loft",
        "--site",
        "unseen-2",
        "--recordings",
        "2",
        "--frames",
        "3",
        "--width",
        "48",
        "--height",
        "32",
        "--format",
        "ros1",
    )
    assert result.returncode == 0, result.stderr
    bags = sorted(p.name for p in out.glob("*.bag"))
    assert bags == ["loft-0-000.bag", "loft-0-001.bag", "unseen-2-0-000.bag", "unseen-2-0-001.bag"]
    assert len(list(out.glob("*.labels.json"))) == 4
    assert "loft-0-000" in result.stdout and "wrote 4 recordings" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--site", "mars"], 2, "unknown site 'mars'"),
        (["--frames", "-3"], 2, "--frames must be at least 1, got -3"),
        (["--recordings", "0"], 2, "--recordings must be at least 1"),
        (["--width", "4"], 2, "image size 4x120 is out of range"),
        (["--label-noise", "1.5"], 2, "--label-noise must be a probability"),
        (["--format", "bag3"], 2, "bag3"),
    ],
)
def test_bad_arguments_give_one_line_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = robotops("sim", str(tmp_path / "out"), *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = robotops("sim", str(blocker / "out"), "--frames", "2")
    assert result.returncode == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot write to {blocker / 'out'}" in lines[0]
    assert blocker.read_text() == "not a folder"


def test_existing_recordings_are_never_overwritten(tmp_path: Path) -> None:
    args = (
        "sim",
        str(tmp_path),
        "--recordings",
        "1",
        "--frames",
        "2",
        "--width",
        "32",
        "--height",
        "24",
    )
    assert robotops(*args).returncode == 0
    labels = tmp_path / "atrium-0-000.labels.json"
    before = labels.read_bytes()
    result = robotops(*args)
    assert result.returncode == 5
    assert "exists already" in result.stderr and "Traceback" not in result.stderr
    assert labels.read_bytes() == before


def test_an_interrupted_simulation_leaves_no_partial_recording(tmp_path: Path) -> None:
    calls = 0

    def interrupt() -> None:
        nonlocal calls
        calls += 1
        if calls == 7:  # in the middle of the second recording
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(
            SimConfig(out_dir=tmp_path, recordings=3, frames=4, width=32, height=24),
            on_frame=interrupt,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "atrium-0-000",
        "atrium-0-000.labels.json",
    ]


@pytest.mark.slow
def test_demo_runs_the_loop_and_replaces_its_own_workspace(tmp_path: Path) -> None:
    earlier = tmp_path / "ws"  # what an earlier demo left: its marker and a stale file
    earlier.mkdir()
    (earlier / MARKER).write_text("made by robotops demo")
    (earlier / "stale.txt").write_text("from the last demo")
    result = robotops("demo", "--workspace", str(earlier))
    assert result.returncode == 0, result.stderr
    assert not (earlier / "stale.txt").exists()
    recordings = tmp_path / "ws" / "recordings"
    sites = {json.loads(p.read_text())["site"] for p in recordings.glob("*.labels.json")}
    assert sites == set(DEMO_SITES) and HELD_OUT in sites
    frames = len(DEMO_SITES) * RECORDINGS * FRAMES
    assert f"added {frames} frames: doors@1" in result.stdout
    snapshot = Store(tmp_path / "ws" / "datasets").snapshot("doors@3")
    assert snapshot.labels().num_rows == snapshot.frame_count() == frames
    index = snapshot.index().to_pylist()
    assert {r["site"] for r in index if r["split"] == "test"} == {"unseen-1"}
    assert {r["split"] for r in index if r["site"] != "unseen-1"} == {"train", "val"}
    assert {r["label"] for r in index if r["split"] == "val"} == {
        "glass_door",
        "wooden_door",
        "no_door",
    }
    # 5. the workspace is robotops init's, and its DVC pipeline ran every stage
    for stage in ("validate", "train", "evaluate", "gate", "export"):
        assert f"Running stage '{stage}'" in result.stdout
    assert (earlier / "dvc.yaml").is_file() and (earlier / ".github/workflows/main.yml").is_file()
    assert "0 failed" in (earlier / "reports/validation.md").read_text()
    assert (earlier / "reports/validation.html").is_file()
    output = result.stdout.replace("\n", "")
    uri = f"sqlite:///{earlier.resolve()}/mlflow.db"
    assert f"MLflow UI: mlflow ui --backend-store-uri {uri}" in output
    metrics = json.loads((earlier / "model/metrics.json").read_text())
    run = MlflowClient(uri).get_run(metrics["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["dataset"] == "doors@3"
    assert run.data.params["model"] == "fusion"
    assert load_params(earlier / "params.yaml").dataset == "doors@3"
    assert "model/best.safetensors (fusion) on doors@3 test" in output
    assert "gate PASSED: model/best.safetensors against the absolute thresholds" in output
    assert (earlier / "reports/evaluation/evaluation.html").is_file()
    # 6-7. registered with the pipeline's gate decision, promoted, its bundle run on the robot
    assert "promoted version 1 to champion" in output
    registry = Registry(uri, "door-classifier")
    assert registry.alias("champion").version == "1"
    assert registry.version("1").run_id == metrics["run_id"]
    assert registry.version("1").tags["robotops.gate"] == "passed"
    assert (earlier / "bundle/model.onnx").is_file()
    assert "robot runtime on held-out frame" in output
    assert registry.version("1").tags["robotops.bundle.sha256"][:16] in output
    # the workspace is left as a pipeline that has run: nothing to do
    status = subprocess.run(
        [str(Path(sys.executable).with_name("dvc")), "status"],
        cwd=earlier, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "up to date" in status.stdout, status.stdout + status.stderr
    # 8-9. served over HTTP, logged, monitored: the night shift drifts, back to labelling
    held_out = sum(r["site"] == HELD_OUT for r in index)
    night = NIGHT_RECORDINGS * FRAMES
    assert f"unseen-1: replayed {held_out} frames, accuracy" in output
    assert f"night shift: replayed {night} frames" in output
    served = held_out + night
    assert f"prediction log: {served} of {served} predictions" in output
    assert read_log(earlier / "predictions", ["site"]).num_rows == served
    assert "drift alert: brightness" in output
    assert (earlier / "predictions/monitor.html").is_file()
    after = Store(tmp_path / "ws" / "datasets").snapshot("doors")
    added = after.frame_count() - frames
    assert after.version == 4 and added > 0
    assert f"{added} new, committed as doors@4" in output
    tasks = json.loads((earlier / "to-label/tasks.json").read_text())
    assert len(tasks) == added and all(t["predictions"] for t in tasks)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    result = robotops("demo", "--workspace", str(foreign))
    assert result.returncode == 5 and (foreign / "thesis.tex").read_text() == "precious"
