"""Drift monitoring: a prediction log against a reference dataset version, and back to labelling.

Example::

    report = run_monitor(Path("predictions"), store, config.monitor)
    print(report.summary())                       # "drift alert: brightness PSI 2.31 >= 0.25, ..."
    html = render_monitor_html(report)
    to_labeling(report, store, Path("to-label"))  # one new dataset version + Label Studio tasks

The server's log writer imports :mod:`robotops.monitor.stats` (NumPy only); everything else here
loads on first use, so that import does not pull in the monitor's stack (ONNX Runtime, the
dataset store, SciPy, Matplotlib).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from robotops.monitor.stats import STATS, InputStats, input_stats

if TYPE_CHECKING:
    from robotops.monitor.drift import FeatureDrift, Status, categorical_psi, psi
    from robotops.monitor.html import render_monitor_html
    from robotops.monitor.labeling import LabelingResult, to_labeling
    from robotops.monitor.monitor import FEATURES, MonitorReport, Verdict, run_monitor

_LAZY = {
    "FEATURES": "monitor",
    "FeatureDrift": "drift",
    "LabelingResult": "labeling",
    "MonitorReport": "monitor",
    "Status": "drift",
    "Verdict": "monitor",
    "categorical_psi": "drift",
    "psi": "drift",
    "render_monitor_html": "html",
    "run_monitor": "monitor",
    "to_labeling": "labeling",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"robotops.monitor.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'robotops.monitor' has no attribute {name!r}")
