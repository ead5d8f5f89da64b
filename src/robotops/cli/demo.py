"""The demo command: the loop end to end on embedded defaults, then a summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from robotops.cli._app import app, console
from robotops.cli.data import print_ingest, print_split, recordings_table
from robotops.cli.evaluate import print_evaluation, print_gate
from robotops.cli.monitor import print_labeling, print_report

if TYPE_CHECKING:
    from robotops.demo import DemoReport


@app.command()
def demo(
    workspace: Annotated[
        Path,
        typer.Option(help="Folder for the demo's workspace; a previous demo there is replaced."),
    ] = Path("demo-workspace"),
) -> None:
    """Run the loop end to end on embedded defaults (what `make demo` runs).

    In a fresh workspace made by `robotops init`: simulate recordings from nine offices (one
    held out), ingest, import labels, split, run the DVC pipeline (validate, train, evaluate,
    gate, export), register and promote, serve the bundle, replay the held-out office and a
    night shift at a new one through it over HTTP, monitor the prediction log and send the
    drifted frames to labelling. Ends with a summary and the paths of the HTML reports.
    """
    from robotops.demo import run_demo  # torch and MLflow: loaded only for the demo

    report: DemoReport = run_demo(workspace, console)
    console.rule("[bold]summary")
    summarise(report)


def summarise(report: DemoReport) -> None:
    """Print what the demo made: data, model, gate, service, drift, and where to look."""
    from robotops.demo import HELD_OUT
    from robotops.train.tracking import tracking_uri, ui_command

    console.print(recordings_table(report.recordings))
    print_ingest(report.ingested)
    console.print(
        f"labels: {report.labelled.changed} frames labelled in [bold]{report.labelled.snapshot}[/]"
    )
    print_split(report.split)
    pipeline = report.pipeline
    t = pipeline.train
    console.print(
        f"trained on [bold]{t['dataset']}[/] (MLflow run {pipeline.run_id}): best epoch "
        f"{t['best_epoch']} of {t['epochs']}, val accuracy {t['val_acc']:.3f}, registered as "
        f"version {pipeline.version}",
        soft_wrap=True,
    )
    print_evaluation(pipeline.evaluation)
    print_gate(pipeline.gate)
    served = report.served
    sites = Table(title="accuracy per site")
    for column in ("site", "frames", "evaluation", "served over HTTP"):
        sites.add_column(column, justify="left" if column == "site" else "right")
    replayed = served.held_out.accuracy if served is not None else None
    for site, m in sorted(pipeline.evaluation.slices.get("site", {}).items()):
        over_http = f"{replayed:.1%}" if served is not None and site == HELD_OUT else ""
        sites.add_row(site, str(m.frames), f"{m.accuracy:.1%}", over_http)
    console.print(sites)
    if report.promotion is not None:
        console.print(f"promoted version {pipeline.version} to champion")
    else:
        console.print(
            f"[bold red]not promoted[/]: the gate refused version {pipeline.version}; see "
            f"{report.workspace / 'reports' / 'gate' / 'gate.md'}",
            soft_wrap=True,
        )
    if report.exported is not None:
        e = report.exported
        p = e.prediction
        console.print(f"bundle: {e.bundle} (sha256 {e.digest[:16]}...)", soft_wrap=True)
        console.print(
            f"robot runtime on held-out frame {e.frame_id}: {p.label} "
            f"({p.confidence:.1%}), labelled {e.label}"
        )
    if served is not None:
        console.print(f"served at {served.url}", highlight=False)
        console.print(f"  {HELD_OUT}: {served.held_out.summary()}", highlight=False)
        console.print(f"  night shift: {served.night.summary()}", highlight=False)
        console.print(
            f"prediction log: {served.logged} of {served.served} predictions in {served.log_dir}",
            soft_wrap=True,
        )
    if report.monitored is not None:
        print_report(report.monitored.report)
        print_labeling(report.monitored.labeling)
    reports = dict(report.pipeline.reports)
    if report.monitored is not None:
        reports["monitor"] = report.monitored.html
    for name, path in reports.items():
        console.print(f"{name} report: {path}", soft_wrap=True, highlight=False)
    console.print(
        f"MLflow UI: {ui_command(tracking_uri(report.workspace))}", soft_wrap=True, highlight=False
    )
    console.print(f"demo workspace: {report.workspace}")
    console.print(
        f"try: cd {report.workspace} && dvc repro (nothing to do) && robotops models list",
        soft_wrap=True,
        highlight=False,
    )
