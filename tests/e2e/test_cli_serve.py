"""`robotops serve` and `robotops replay` from the real entry point: load, shutdown, bad input."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from robotops.dataset.store import Store
from robotops.errors import RobotopsError
from robotops.runtime import Frame
from robotops.serve.app import InferenceServer, ServeOptions, load_model
from robotops.serve.client import InferenceClient
from robotops.serve.predlog import read_log
from robotops.serve.server import background
from tests.e2e.test_cli_sim import robotops
from tests.export.synthetic import raw_frames


def start_server(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """``robotops serve ARGS`` in a subprocess; returns it and its URL once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "robotops", "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "300", "PATH": "/usr/bin:/bin", "ROBOTOPS_ADMIN_TOKEN": "t" * 24},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the server listens (or dies)
    found = re.search(r" at (http://[\d.]+:\d+)/v2/models/", line)
    if found is None:
        process.kill()
        raise AssertionError(f"no URL in {line!r}; stderr: {process.stderr.read()}")
    return process, found.group(1)


@pytest.mark.slow
def test_a_graceful_shutdown_under_load_logs_every_frame_served(exported, tmp_path: Path) -> None:
    process, url = start_server(str(exported.path), "--log", str(tmp_path / "log"), cwd=tmp_path)
    frames = [Frame(*f) for f in raw_frames(10) if all(a is not None for a in f)]
    answered = [0] * 8
    stop = threading.Event()

    def load(worker: int) -> None:
        with InferenceClient(url, "door-classifier", timeout=30) as client:
            for i in range(400):  # bounded: about 3,000 requests at most in all
                if stop.is_set():
                    return
                try:
                    client.infer([frames[(worker + i) % len(frames)]], {"robot": f"r{worker}"})
                except RobotopsError:
                    return  # the server went away: this client is done
                answered[worker] += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while sum(answered) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)  # mid-load
    _, stderr = process.communicate(timeout=60)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert process.returncode == 0, stderr
    served = sum(answered)
    assert served >= 150
    found = re.search(r"stopped: (\d+) frames served, (\d+) logged", stderr)
    assert found is not None, stderr
    assert int(found.group(1)) == int(found.group(2)) == served
    log = read_log(tmp_path / "log", ["robot", "request_id"])
    assert log.num_rows == served
    robots = log.column("robot").to_pylist()
    assert {r: robots.count(r) for r in set(robots)} == {
        f"r{w}": n for w, n in enumerate(answered) if n
    }
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "log").iterdir())


def test_serve_refuses_bad_bundles_and_busy_ports_in_one_line(exported, tmp_path: Path) -> None:
    missing = robotops("serve", str(tmp_path / "nothing"), cwd=tmp_path)
    assert missing.returncode == 4
    assert missing.stderr.strip().splitlines() == [f"error: {tmp_path / 'nothing'}: no such "
                                                   "bundle folder"]  # fmt: skip
    assert "Traceback" not in missing.stderr
    with background(InferenceServer(load_model(exported.path, None, ServeOptions()),
                                    ServeOptions()).app) as url:  # fmt: skip
        port = url.rsplit(":", 1)[1]
        busy = robotops("serve", str(exported.path), "--port", port, cwd=tmp_path)
    assert busy.returncode == 5
    assert f"127.0.0.1:{port} is in use" in busy.stderr
    assert "Traceback" not in busy.stderr
    assert not (tmp_path / "predictions").exists()  # nothing left behind
    short = subprocess.run(
        [sys.executable, "-m", "robotops", "serve", str(exported.path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PATH": "/usr/bin:/bin", "ROBOTOPS_ADMIN_TOKEN": "short"},
    )  # fmt: skip
    assert short.returncode == 2 and "shorter than 16 characters" in short.stderr


def test_replay_sends_a_dataset_version_through_the_server(
    split_store: tuple[Store, str], exported, tmp_path: Path
) -> None:
    store, ref = split_store
    options = ServeOptions()
    server = InferenceServer(load_model(exported.path, None, options), options)
    snapshot = store.snapshot(ref)
    site = snapshot.frames(["site"]).column("site")[0].as_py()
    expected = sum(s == site for s in snapshot.frames(["site"]).column("site").to_pylist())
    with background(server.app) as url:
        result = robotops(
            "replay", url, "--dataset", ref, "--site", site, "--store", str(store.root),
            "--model", "door-classifier", cwd=tmp_path,
        )  # fmt: skip
        unknown = robotops("replay", url, "--dataset", ref, "--site", "mars",
                           "--store", str(store.root), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.search(rf"replayed {expected} frames, accuracy \d+\.\d%", result.stdout)
    assert server.served == expected
    assert unknown.returncode == 4 and "no frame matches" in unknown.stderr
    down = robotops("replay", url, "--dataset", ref, "--store", str(store.root), cwd=tmp_path)
    assert down.returncode == 6 and "ConnectionRefusedError" in down.stderr
