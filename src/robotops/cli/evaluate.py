"""Commands that judge models: evaluate and gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from robotops.cli._app import (
    ConfigOption,
    FormatOption,
    JsonOption,
    StoreOption,
    WorkspaceOption,
    app,
    console,
    report_format,
    setup,
)
from robotops.errors import CheckFailed, OutputError
from robotops.progress import frame_progress

if TYPE_CHECKING:
    from robotops.evaluate.results import Evaluation, GateResult

ModelArgument = Annotated[
    str,
    typer.Argument(
        help="The model: NAME@ALIAS (door-classifier@champion), NAME/VERSION, an alias or "
        "version of the workspace's registered model, a training run id, or a checkpoint file."
    ),
]
DatasetOption = Annotated[
    str | None,
    typer.Option(
        "--dataset", help="Dataset version to score on (default: the one the model trained on)."
    ),
]
SplitOption = Annotated[
    str | None, typer.Option(help="Split to score (default: evaluate.split, test).")
]
SLICE_ROWS = 12


@app.command("evaluate")
def evaluate_command(
    model: ModelArgument,
    dataset: DatasetOption = None,
    split: SplitOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for evaluation.html, .md and .json (default: reports/MODEL)."),
    ] = None,
    metrics: Annotated[
        Path | None,
        typer.Option(
            help="Also write the figures as one flat JSON object (test.accuracy, "
            "test.slice.site.loft.accuracy, ...; no timings) for dvc metrics."
        ),
    ] = None,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
    log: Annotated[
        bool, typer.Option(help="Log metrics and reports to the model's MLflow run.")
    ] = True,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Score a model on a dataset version's split: overall, per slice, per modality subset.

    Reports accuracy, per-class precision/recall/F1, the confusion matrix and calibration (ECE)
    for every frame, for every slice (site and frame tags such as lighting) and with sensors
    withheld; runs the behavioural tests of robotops.yaml; writes an HTML report with plots and a
    grid of misclassified frames, plus Markdown and JSON, and logs them to the model's run.
    """
    from robotops.registry import evaluate_named  # torch and MLflow: loaded only when needed

    fmt = report_format(fmt, as_json)
    cfg, dataset_store = setup(config, store)
    with frame_progress(console, "decoding frames", None, transient=True) as advance:
        outcome = evaluate_named(
            model,
            store=dataset_store,
            workspace=workspace,
            config=cfg,
            dataset=dataset,
            split=split,
            out=out,
            log=log,
            on_frames=advance,
        )
    if metrics is not None:
        write_metrics(outcome.evaluation, metrics)
    if fmt == "json":
        print(json.dumps(outcome.evaluation.to_dict(), indent=1))
        return
    if fmt == "markdown":
        print(outcome.reports["markdown"].read_text(), end="")
        return
    print_evaluation(outcome.evaluation)
    console.print(f"report: {outcome.reports['html']}", soft_wrap=True)
    if outcome.logged_to:
        console.print(f"logged to MLflow run {outcome.logged_to}")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def print_evaluation(ev: Evaluation) -> None:
    """Print an evaluation: headline, classes, worst slices, modality subsets, behaviour."""
    o = ev.overall
    console.print(
        f"[bold]{ev.model}[/] ({ev.architecture}) on [bold]{ev.dataset}[/] {ev.split}: "
        f"accuracy {o.accuracy:.1%}, macro F1 {o.macro_f1:.3f}, ECE {o.ece:.3f}, "
        f"{o.frames} frames"
    )
    classes = Table(title="per class")
    for column in ("class", "precision", "recall", "F1", "frames"):
        classes.add_column(column, justify="left" if column == "class" else "right")
    for name, m in o.per_class.items():
        classes.add_row(name, _pct(m.precision), _pct(m.recall), f"{m.f1:.3f}", str(m.support))
    console.print(classes)
    rows = sorted(
        ((m.accuracy, key, value, m) for key, vs in ev.slices.items() for value, m in vs.items()),
        key=lambda r: (r[0], r[1], r[2]),
    )
    slices = Table(title=f"slices, worst first ({min(len(rows), SLICE_ROWS)} of {len(rows)})")
    for column in ("slice", "accuracy", "macro F1", "frames"):
        slices.add_column(column, justify="left" if column == "slice" else "right")
    for accuracy, key, value, m in rows[:SLICE_ROWS]:
        slices.add_row(f"{key}={value}", _pct(accuracy), f"{m.macro_f1:.3f}", str(m.frames))
    console.print(slices)
    subsets = Table(title="modality subsets (sensors withheld)")
    subsets.add_column("sensors")
    subsets.add_column("accuracy", justify="right")
    for name, m in ev.modalities.items():
        subsets.add_row(name, _pct(m.accuracy))
    console.print(subsets)
    print_behaviour(ev)


def print_behaviour(ev: Evaluation) -> None:
    """Print the behavioural tests with their verdicts."""
    table = Table(title="behavioural tests")
    for column in ("test", "status", "measured", "limit", "detail"):
        table.add_column(column)
    marks = {True: "[green]pass[/]", False: "[bold red]FAIL[/]", None: "[yellow]n/a[/]"}
    for test in ev.behaviour:
        measured = "" if test.measured is None else f"{test.measured:.3g}"
        table.add_row(test.id, marks[test.passed], measured, f"{test.threshold:g}", test.detail)
    console.print(table)


@app.command("gate")
def gate_command(
    challenger: ModelArgument,
    against: Annotated[
        str,
        typer.Option(
            help="What to beat: an alias (default champion), version, run or checkpoint. With no "
            "champion yet, the absolute thresholds of robotops.yaml apply."
        ),
    ] = "champion",
    dataset: DatasetOption = None,
    split: SplitOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the challenger's evaluation and gate.md/gate.json "
            "(default: reports/CHALLENGER)."
        ),
    ] = None,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Decide whether a challenger may replace the champion; exit 10 when it may not.

    Both models are scored on the same dataset version and split. The challenger passes only if
    its overall metric is within gate.tolerance of the champion's, no slice regresses by more
    than gate.slice_tolerance, and every behavioural test passes. The decision is noted on the
    challenger's registry version (promotion checks it) and written as gate.md for a pull request.
    """
    from robotops.registry import gate_named

    fmt = report_format(fmt, as_json)
    cfg, dataset_store = setup(config, store)
    with frame_progress(console, "decoding frames", None, transient=True) as advance:
        outcome = gate_named(
            challenger,
            against,
            store=dataset_store,
            workspace=workspace,
            config=cfg,
            dataset=dataset,
            split=split,
            out=out,
            on_frames=advance,
        )
    result = outcome.result
    if fmt == "json":
        print(json.dumps(result.to_dict(), indent=1))
    elif fmt == "markdown":
        print(outcome.reports["markdown"].read_text(), end="")
    else:
        print_gate(result)
        console.print(f"summary for a pull request: {outcome.reports['markdown']}", soft_wrap=True)
        if outcome.recorded_on:
            console.print(f"decision recorded on {outcome.recorded_on}")
    if not result.passed:
        failed = "; ".join(c.detail for c in result.failures)
        raise CheckFailed(f"gate refused {result.challenger}: {failed}")


def print_gate(result: GateResult) -> None:
    """Print a gate decision: the verdict, then every check, failed ones first."""
    versus = result.champion or "the absolute thresholds (no champion yet)"
    verdict = "[bold green]PASSED[/]" if result.passed else "[bold red]REFUSED[/]"
    console.print(
        f"gate {verdict}: {result.challenger} against {versus} on {result.dataset} {result.split}"
    )
    table = Table()
    for column in ("check", "status", "challenger", "champion", "limit"):
        table.add_column(column)
    for check in sorted(result.checks, key=lambda c: c.passed):
        status = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
        figures = (_fig(check.challenger), _fig(check.reference), _fig(check.limit))
        table.add_row(check.id, status, *figures)
    console.print(table)


def _fig(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def write_metrics(ev: Evaluation, path: Path) -> None:
    """Write ``ev``'s figures as a flat JSON object, without the timing ones.

    Raises:
        OutputError: ``path`` cannot be written.
    """
    from robotops.evaluate.record import evaluation_metrics

    figures = {
        k: round(v, 6) for k, v in evaluation_metrics(ev).items() if not k.endswith("latency")
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as err:
        raise OutputError(f"{path}: cannot write the metrics: {err.strerror or err}") from err
