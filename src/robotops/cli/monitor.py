"""The command that closes the loop: monitor (drift of a prediction log, and back to labelling)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from robotops.cli._app import (
    ConfigOption,
    StoreOption,
    app,
    console,
    err_console,
    setup,
)
from robotops.dataset.export import LOCAL_FILES_PREFIX, check_free
from robotops.errors import CheckFailed, OutputError
from robotops.progress import frame_progress

if TYPE_CHECKING:
    from robotops.monitor import LabelingResult, MonitorReport

MONITOR_HTML = "monitor.html"

_STATUS = {
    "ok": "[green]ok[/]",
    "warn": "[yellow]warn[/]",
    "alert": "[bold red]ALERT[/]",
    "skipped": "[dim]skipped[/]",
}


@app.command("monitor")
def monitor_command(
    log: Annotated[
        Path, typer.Argument(help="Prediction log folder (robotops serve --log, ./predictions).")
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            help="Dataset version to compare with, NAME@VERSION (default: the one the bundle's "
            "model was trained on)."
        ),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            help="Bundle folder whose logged rows to monitor; it is also run on the reference "
            "(default: the bundle of the newest logged row, where the log's bundles.json says)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON instead of a table.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option(help="HTML report to write (default: LOG/monitor.html).")
    ] = None,
    to_labeling: Annotated[
        Path | None,
        typer.Option(
            "--to-labeling",
            help="Also commit the logged low-confidence and drifted frames as one new "
            "unlabelled dataset version, and write their Label Studio tasks to this new folder.",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Dataset that --to-labeling adds the frames to (default: the reference's)."
        ),
    ] = None,
    url_prefix: Annotated[
        str,
        typer.Option(
            help="With --to-labeling: put before each image path in the tasks; the default "
            "suits Label Studio's local-file serving, '' leaves relative paths."
        ),
    ] = LOCAL_FILES_PREFIX,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Compare a prediction log with a reference dataset version; exit 10 on a drift alert.

    Compares the model's class mix and confidence, and the input statistics (colour
    brightness, share of valid depth pixels, LiDAR returns), between the logged frames and the
    reference frames (the bundle is run on those), with PSI and a KS test (chi-square for the
    class mix). A feature alerts when its shift is large (PSI >= monitor.psi_alert, or KS
    statistic >= monitor.ks_statistic) and significant (p < monitor.ks_pvalue); it warns at
    PSI >= monitor.psi_warn. Fewer than monitor.min_rows logged frames give no verdict.

    The log's rows of one bundle are compared: --bundle's, else the newest row's bundle. Prints
    the report (JSON with --json), writes it as HTML with the distributions plotted, and exits
    0 when quiet or with warnings only, 10 when a feature alerts.

    --to-labeling OUT takes the logged frames whose input was kept and that were low-confidence
    or drifted (a statistic of a warning or alerting feature outside the reference's 1st-99th
    percentile), adds them to --dataset as one version of kind monitor (unlabelled; frames it
    has already are skipped) and writes Label Studio tasks with the model's prediction as
    pre-annotation to OUT. Bring the annotations back with `robotops labels import`.
    """
    from robotops.monitor import render_monitor_html, run_monitor
    from robotops.monitor import to_labeling as send_to_labeling

    if to_labeling is not None:
        check_free(to_labeling)  # before any work
    cfg, dataset_store = setup(config, store)
    # A bar only on a terminal: piped, stderr keeps to the one line of an error.
    bar = (
        frame_progress(err_console, "scoring reference frames", None, transient=True)
        if err_console.is_terminal
        else nullcontext(None)
    )
    with bar as advance:
        report = run_monitor(
            log, dataset_store, cfg.monitor, reference=reference, bundle=bundle, on_frames=advance
        )
    html_path = html or log / MONITOR_HTML
    _write(html_path, render_monitor_html(report))
    if not as_json:  # the report first: it stands even if sending frames to labelling fails
        print_report(report)
        console.print(f"report: {html_path}", soft_wrap=True, highlight=False)
    labeling = None
    if to_labeling is not None:
        labeling = send_to_labeling(
            report, dataset_store, to_labeling, dataset=dataset, image_url_prefix=url_prefix
        )
    if as_json:
        out = report.to_dict() | {"html": str(html_path)}
        if labeling is not None:
            out["labeling"] = labeling.to_dict()
        print(json.dumps(out, indent=1))
    elif labeling is not None:
        print_labeling(labeling)
    if report.alerts:
        raise CheckFailed(report.summary())


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise OutputError(f"{path}: cannot write the report: {err.strerror or err}") from err


def print_report(report: MonitorReport) -> None:
    """Print a monitor report: what was compared, a table of features, the verdict."""
    from robotops.monitor.html import number

    named = f"{report.model or 'model'}" + (f"/{report.version}" if report.version else "")
    split = f" ({report.reference_split})" if report.reference_split else ""
    console.print(
        f"[bold]{named}[/]: {report.rows} logged frames ({report.low_confidence} low-confidence) "
        f"against [bold]{report.reference}[/]{split}, {report.reference_frames} frames",
        highlight=False,
    )
    for note in report.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    table = Table()
    for column in ("feature", "status", "PSI", "p", "KS", "ref mean", "log mean", "why"):
        numeric = column in ("PSI", "p", "KS", "ref mean", "log mean")
        table.add_column(column, justify="right" if numeric else "left")
    for f in report.features:
        table.add_row(
            f.name,
            _STATUS[str(f.status)],
            number(f.psi),
            "" if f.pvalue is None else f"{f.pvalue:.2g}",
            number(f.ks_statistic),
            number(f.reference_mean),
            number(f.log_mean),
            f.reason,
        )
    console.print(table)
    console.print(report.summary(), highlight=False, soft_wrap=True)


def print_labeling(result: LabelingResult) -> None:
    """Print what --to-labeling committed and exported."""
    if not result.selected:
        console.print("to labelling: no logged frame is low-confidence or drifted with its input")
        return
    reasons = ", ".join(f"{r} {n}" for r, n in result.reasons.items())
    version = (
        f"committed as [bold]{result.snapshot}[/]"
        if result.new_version
        else f"all in {result.snapshot} already"
    )
    console.print(
        f"to labelling: {result.selected} frames ({reasons}); {result.added} new, {version}",
        highlight=False,
    )
    if result.export is not None:
        console.print(f"{result.export.tasks} tasks written to {result.export.tasks_path}")
