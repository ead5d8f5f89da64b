"""Headless Chromium for tests: screenshot a page, or dump its DOM after it has loaded.

Tests that need a browser call these helpers; when Chromium is not installed they skip, except in
CI (``CI`` set), where a missing browser is a broken runner and fails loudly. ``.ci/run``
installs Debian's ``chromium`` package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

TIMEOUT_S = 60
# No network, no profile state, no GPU: the same page renders the same way on any runner.
FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes the renderer
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--force-color-profile=srgb",  # pixels in screenshots are the page's CSS colours
)


def chromium() -> str:
    """The Chromium executable; skips the test (fails it under CI) when there is none."""
    found = next(
        (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not installed: CI must apt-get install chromium (see .ci/run)")
        pytest.skip("chromium not installed: apt-get install chromium (.ci/run does)")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium with a fresh profile; fail the test with its stderr when it fails."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"chromium did not finish in {TIMEOUT_S} s: {' '.join(command)}")
    if done.returncode != 0:
        pytest.fail(f"chromium exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 1600) -> Path:
    """Screenshot the top ``width`` x ``height`` pixels of a page into ``png``."""
    _run(f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri())
    if not png.is_file():
        pytest.fail(f"chromium wrote no screenshot to {png}")
    return png


def dump_dom(html: Path) -> str:
    """The page's DOM, serialised once it has loaded and its ``load`` handlers have run."""
    return _run("--dump-dom", html.resolve().as_uri()).stdout
