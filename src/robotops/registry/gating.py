"""Evaluate and gate models named by reference, and record what was decided.

These are the functions behind ``robotops evaluate`` and ``robotops gate``: find the model
(:func:`~robotops.registry.resolve.resolve_model`), score it on a dataset version's split,
write its reports, log them to its training run, and for a gate score the champion on the same
frames, decide, and note the decision on the challenger's registry version so that a promotion
can check it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from robotops.config import Config
from robotops.dataset.store import Store
from robotops.errors import NotFoundError, OutputError, UsageError
from robotops.evaluate.behaviour import LatencyProbe
from robotops.evaluate.evaluation import evaluate_checkpoint
from robotops.evaluate.gate import gate
from robotops.evaluate.html import render_evaluation_html
from robotops.evaluate.markdown import evaluation_markdown, gate_markdown
from robotops.evaluate.record import log_evaluation, metric_name
from robotops.evaluate.results import Evaluation, GateResult
from robotops.evaluate.views import frame_views
from robotops.registry.registry import CHAMPION, Registry
from robotops.registry.resolve import ResolvedModel, resolve_model
from robotops.train.run import CACHE_DIR
from robotops.train.tracking import Tracker, tracking_uri

REPORTS_DIR = Path("reports")
BUNDLE_PATH_TAG = "robotops.bundle.path"
LATENCY_CALLS = 50
MISCLASSIFIED_SHOWN = 24


@dataclass(frozen=True)
class EvaluationOutcome:
    """A model found, scored and reported.

    Attributes:
        model: The model and its checkpoint.
        evaluation: Its scores.
        reports: ``html``, ``markdown`` and ``json`` report files.
        logged_to: The MLflow run the evaluation was logged to, if any.
    """

    model: ResolvedModel
    evaluation: Evaluation
    reports: dict[str, Path]
    logged_to: str | None


@dataclass(frozen=True)
class GateOutcome:
    """A gate decided and recorded.

    Attributes:
        result: The decision and every check.
        challenger: The challenger's evaluation.
        champion: The champion's, or None when there was no champion.
        recorded_on: The registry version the decision was noted on (None for a bare run).
        reports: ``markdown`` and ``json`` files of the decision.
    """

    result: GateResult
    challenger: EvaluationOutcome
    champion: EvaluationOutcome | None
    recorded_on: str | None
    reports: dict[str, Path]


def report_dir(workspace: Path, ref: str) -> Path:
    """Where a model's reports go by default: ``reports/REF`` with ``/`` and ``@`` made safe."""
    return workspace / REPORTS_DIR / metric_name(ref).replace("/", "-")


def _write(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text)
        partial.replace(path)
    except OSError as err:
        raise OutputError(f"{path}: cannot write the report: {err.strerror or err}") from err
    return path


def _tracker(workspace: Path, run_id: str | None) -> Tracker | None:
    """A tracker attached to ``run_id``, or None when the tracking store does not have it."""
    if run_id is None:
        return None
    tracker = Tracker(tracking_uri(workspace), workspace)
    try:
        tracker.attach(run_id)
    except NotFoundError:
        return None
    return tracker


def bundle_latency(
    bundle: Path, arrays: dict[str, np.ndarray], calls: int = LATENCY_CALLS
) -> float:
    """Median milliseconds of one frame through ``bundle``'s fp32 model with ONNX Runtime."""
    from robotops.runtime import load_bundle

    loaded = load_bundle(bundle)
    frame = {k: v[:1] for k, v in arrays.items()}
    loaded.predict_arrays(frame)  # warm-up: the first call allocates
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        loaded.predict_arrays(frame)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def _exported(model: ResolvedModel, uri: str) -> Path | None:
    """The bundle exported from a registry version, if it is still where it was written."""
    if model.version is None or model.name is None:
        return None
    path = Registry(uri, model.name).version(model.version).tags.get(BUNDLE_PATH_TAG)
    return Path(path) if path and Path(path).is_dir() else None


def evaluate_named(
    ref: str,
    *,
    store: Store,
    workspace: Path,
    config: Config,
    dataset: str | None = None,
    split: str | None = None,
    out: Path | None = None,
    log: bool = True,
    latency_ms: LatencyProbe | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> EvaluationOutcome:
    """Score the model ``ref`` names on ``split`` of ``dataset``, write and log its reports.

    Args:
        ref: The model (see :mod:`robotops.registry.resolve`).
        store: The dataset store.
        workspace: Where runs, the input cache, MLflow and reports live.
        config: Slices, behavioural tests, registered model name.
        dataset: The dataset version (default: the one the model was trained on).
        split: The split (default: ``evaluate.split``, ``test``).
        out: Folder for the reports (default: ``reports/REF/``).
        log: Log metrics and reports to the model's training run.
        latency_ms: Measures the exported model's latency given the split's inputs (default:
            the bundle last exported from a registry version, if it is still there).
        on_frames: Told how many frames were decoded (cold input cache only).

    Raises:
        NotFoundError: No such model, dataset version or split.
        DataError: The model's classes differ from the dataset's, or a frame does not decode.
    """
    uri = tracking_uri(workspace)
    model = resolve_model(ref, workspace, uri, config.registry.model)
    dataset_ref = dataset or model.dataset
    if not dataset_ref:
        raise UsageError(f"{ref}: the checkpoint does not say its dataset; give --dataset")
    snapshot = store.snapshot(dataset_ref)
    bundle = _exported(model, uri) if latency_ms is None else None
    if bundle is not None:
        latency_ms = partial(bundle_latency, bundle)
    evaluation = evaluate_checkpoint(
        model.checkpoint,
        snapshot,
        split or config.evaluate.split,
        workspace / CACHE_DIR,
        name=model.ref,
        settings=config.evaluate,
        behaviour=config.behaviour,
        latency_ms=latency_ms,
        on_frames=on_frames,
    )
    folder = out or report_dir(workspace, model.ref)
    wrong = [p.frame_id for p in evaluation.misclassified()[:MISCLASSIFIED_SHOWN]]
    html = render_evaluation_html(evaluation, frame_views(snapshot, wrong))
    reports = {
        "html": _write(folder / "evaluation.html", html),
        "markdown": _write(folder / "evaluation.md", evaluation_markdown(evaluation)),
        "json": _write(folder / "evaluation.json", json.dumps(evaluation.to_dict(), indent=1)),
    }
    tracker = _tracker(workspace, model.run_id) if log else None
    if tracker is not None:
        log_evaluation(tracker, evaluation, list(reports.values()))
    if model.version is not None:
        registry = Registry(uri, model.name or config.registry.model)
        prefix = f"eval.{metric_name(evaluation.dataset)}.{evaluation.split}"
        for figure in ("accuracy", "macro_f1", "ece"):
            value = getattr(evaluation.overall, figure)
            registry.tag_version(model.version, f"{prefix}.{figure}", f"{value:.6g}")
    return EvaluationOutcome(
        model, evaluation, reports, None if tracker is None else tracker.run_id
    )


def gate_named(
    challenger: str,
    against: str = CHAMPION,
    *,
    store: Store,
    workspace: Path,
    config: Config,
    dataset: str | None = None,
    split: str | None = None,
    latency_ms: LatencyProbe | None = None,
    out: Path | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> GateOutcome:
    """Gate ``challenger`` against ``against`` (an alias, version, run or file).

    The champion alias may be unset (no champion yet): the absolute thresholds apply. Any other
    reference must exist. Both models are scored on the same dataset version (default: the one
    the challenger was trained on) and split. The challenger's reports and the decision go to
    ``out`` (default: its report folder).

    Raises:
        NotFoundError: A model or the dataset version does not exist.
        UsageError: The challenger is the model it is gated against.
    """
    uri = tracking_uri(workspace)
    name = config.registry.model
    champion_model: ResolvedModel | None
    try:
        champion_model = resolve_model(against, workspace, uri, name)
    except NotFoundError:
        if against != CHAMPION and not against.endswith(f"@{CHAMPION}"):
            raise
        champion_model = None
    common = {"store": store, "workspace": workspace, "config": config, "split": split}
    ours = evaluate_named(
        challenger, dataset=dataset, latency_ms=latency_ms, out=out, on_frames=on_frames, **common
    )
    if champion_model is not None and champion_model.checkpoint == ours.model.checkpoint:
        raise UsageError(f"{ours.model.ref} is {against}: there is nothing to gate it against")
    theirs = None
    if champion_model is not None:
        theirs = evaluate_named(
            champion_model.ref,
            dataset=ours.evaluation.dataset,
            on_frames=on_frames,
            **common,
        )
    result = gate(ours.evaluation, None if theirs is None else theirs.evaluation, config.gate)
    folder = ours.reports["json"].parent
    reports = {
        "markdown": _write(folder / "gate.md", gate_markdown(result)),
        "json": _write(folder / "gate.json", json.dumps(result.to_dict(), indent=1)),
    }
    tracker = _tracker(workspace, ours.model.run_id)
    if tracker is not None:
        tracker.log_metrics({"gate.passed": float(result.passed)})
        for path in reports.values():
            tracker.log_artifact(path, "gate")
    recorded = None
    if ours.model.version is not None:
        registry = Registry(uri, ours.model.name or name)
        # Only a gate against a registry version (or no champion) can clear a promotion.
        against_version = None
        if champion_model is not None:
            against_version = champion_model.version or f"not-registered:{champion_model.ref}"
        registry.record_gate(ours.model.version, result, against_version)
        recorded = ours.model.ref
    return GateOutcome(result, ours, theirs, recorded, reports)
