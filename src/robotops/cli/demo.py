"""The demo command: the loop end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from robotops.demo import DemoReport, run_demo

if TYPE_CHECKING:
    pass
from robotops.cli._app import (
    app,
    console,
)
from robotops.cli.data import print_ingest, print_split, print_validation, recordings_table
from robotops.cli.train import print_training


@app.command()
def demo(
    workspace: Annotated[
        Path,
        typer.Option(help="Folder for the demo's workspace; a previous demo there is replaced."),
    ] = Path("demo-workspace"),
) -> None:
    """Run the loop end to end on embedded defaults (what `make demo` runs)."""
    report: DemoReport = run_demo(workspace, console)
    console.print(recordings_table(report.recordings))
    print_ingest(report.ingested)
    console.print(
        f"labels: {report.labelled.changed} frames labelled in [bold]{report.labelled.snapshot}[/]"
    )
    print_split(report.split)
    print_validation(report.validation)
    print_training(report.training)
    console.print(f"demo workspace: {report.workspace}")
    console.print(f"try: cd {report.workspace} && robotops data log doors && robotops train")
