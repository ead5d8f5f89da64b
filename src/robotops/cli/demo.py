"""The demo command: the loop end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from robotops.cli._app import app, console
from robotops.cli.data import print_ingest, print_split, print_validation, recordings_table
from robotops.cli.evaluate import print_evaluation, print_gate
from robotops.cli.monitor import print_labeling, print_report
from robotops.cli.train import print_training

if TYPE_CHECKING:
    from robotops.demo import DemoReport


@app.command()
def demo(
    workspace: Annotated[
        Path,
        typer.Option(help="Folder for the demo's workspace; a previous demo there is replaced."),
    ] = Path("demo-workspace"),
) -> None:
    """Run the loop end to end on embedded defaults (what `make demo` runs)."""
    from robotops.demo import HELD_OUT, run_demo  # torch and MLflow: loaded only for the demo

    report: DemoReport = run_demo(workspace, console)
    console.print(recordings_table(report.recordings))
    print_ingest(report.ingested)
    console.print(
        f"labels: {report.labelled.changed} frames labelled in [bold]{report.labelled.snapshot}[/]"
    )
    print_split(report.split)
    print_validation(report.validation)
    print_training(report.training)
    gated = report.gate
    print_evaluation(gated.challenger.evaluation)
    console.print(f"evaluation report: {gated.challenger.reports['html']}", soft_wrap=True)
    print_gate(gated.result)
    if report.promotion is not None:
        console.print(f"promoted {gated.result.challenger} to champion")
    if report.exported is not None:
        e = report.exported
        p = e.prediction
        console.print(f"bundle: {e.bundle} (sha256 {e.digest[:16]}...)", soft_wrap=True)
        console.print(
            f"robot runtime on held-out frame {e.frame_id}: {p.label} "
            f"({p.confidence:.1%}), labelled {e.label}"
        )
    if report.served is not None:
        served = report.served
        console.print(f"served at {served.url}", highlight=False)
        console.print(f"  {HELD_OUT}: {served.held_out.summary()}", highlight=False)
        console.print(f"  night shift: {served.night.summary()}", highlight=False)
        console.print(
            f"prediction log: {served.logged} of {served.served} predictions in {served.log_dir}",
            soft_wrap=True,
        )
    if report.monitored is not None:
        print_report(report.monitored.report)
        console.print(f"monitor report: {report.monitored.html}", soft_wrap=True)
        print_labeling(report.monitored.labeling)
    if report.exported is None:
        console.print(
            f"[bold red]not promoted[/]: the gate refused {gated.result.challenger}; "
            f"see {gated.reports['markdown']}",
            soft_wrap=True,
        )
    console.print(f"demo workspace: {report.workspace}")
    console.print(f"try: cd {report.workspace} && robotops models list && robotops data log doors")
