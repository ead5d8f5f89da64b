"""The server's Prometheus metrics, on a registry of their own (served at ``/metrics``).

========================================= ========= ============================================
metric                                    type      labels
========================================= ========= ============================================
``robotops_requests_total``               counter   ``endpoint``, ``code``
``robotops_request_duration_seconds``     histogram ``endpoint``
``robotops_predictions_total``            counter   ``label``
``robotops_errors_total``                 counter   ``reason`` (shape, dtype, too_large, ...)
``robotops_reloads_total``                counter   ``result`` (ok, refused, failed)
``robotops_model_info``                   gauge     ``name``, ``version``, ``bundle`` (1)
``robotops_log_pending``                  gauge     rows waiting for the log writer
``robotops_log_written``                  gauge     rows written to the log so far
========================================= ========= ============================================
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from robotops.serve.predlog import PredictionLog

CONTENT_TYPE = CONTENT_TYPE_LATEST

disable_created_metrics()  # the *_created series only double a scrape's size

# Latency buckets from 0.5 ms (a batch-1 request on a fast CPU) to 2.5 s.
_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.004,
    0.006,
    0.008,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class Metrics:
    """The server's metrics; :meth:`exposition` renders them for a scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "robotops_requests",
            "HTTP requests answered.",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "robotops_request_duration_seconds",
            "Time from request to answer, in the server.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "robotops_predictions",
            "Frames predicted, by predicted class.",
            ["label"],
            registry=self.registry,
        )
        self.errors = Counter(
            "robotops_errors",
            "Requests refused or failed, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "robotops_reloads",
            "Bundle reload requests, by result.",
            ["result"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "robotops_model_info",
            "The bundle being served (value 1).",
            ["name", "version", "bundle"],
            registry=self.registry,
        )
        self.log_pending = Gauge(
            "robotops_log_pending",
            "Predictions waiting for the log writer.",
            registry=self.registry,
        )
        self.log_written = Gauge(
            "robotops_log_written", "Predictions written to the log.", registry=self.registry
        )

    def serving(self, name: str, version: str, digest: str) -> None:
        """Point ``robotops_model_info`` at the bundle now served."""
        self.model_info.clear()
        self.model_info.labels(name, version, digest[:12]).set(1)

    def watch_log(self, log: PredictionLog) -> None:
        """Report ``log``'s backlog and progress at each scrape."""
        self.log_pending.set_function(lambda: log.pending)
        self.log_written.set_function(lambda: log.written)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
