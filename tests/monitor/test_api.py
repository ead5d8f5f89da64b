"""The monitor's public surface, and what importing it costs the server's log writer."""

from __future__ import annotations

import json
import subprocess
import sys

import robotops.monitor

PROBE = """
import json, sys
import robotops.monitor
print(json.dumps(sorted(sys.modules)))
"""


def test_public_api() -> None:
    assert sorted(robotops.monitor.__all__) == sorted(
        [
            "FEATURES",
            "STATS",
            "FeatureDrift",
            "InputStats",
            "LabelingResult",
            "MonitorReport",
            "Status",
            "Verdict",
            "categorical_psi",
            "input_stats",
            "psi",
            "render_monitor_html",
            "run_monitor",
            "to_labeling",
        ]
    )
    for name in robotops.monitor.__all__:
        assert getattr(robotops.monitor, name) is not None


def test_importing_the_package_loads_only_the_statistics() -> None:
    """The server's log writer imports robotops.monitor.stats, and with it this package."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    for heavy in ("onnxruntime", "scipy", "matplotlib", "lance", "pyarrow", "jinja2", "PIL"):
        assert heavy not in loaded, heavy
