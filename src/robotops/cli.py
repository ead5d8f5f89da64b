"""The ``robotops`` command line: parsing and printing only; the work is in the subpackages.

Expected errors (:class:`robotops.errors.RobotopsError`) are printed as one line on stderr and
exit with the error's own exit code; this module is the one place where that happens.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from robotops import __version__
from robotops.demo import DemoReport, run_demo
from robotops.errors import RobotopsError
from robotops.progress import frame_progress
from robotops.sim import SITES, BagFormat, LabelFaults, SimConfig, SimulatedRecording, simulate

app = typer.Typer(
    name="robotops",
    help="MLOps for robot perception: from recordings to a versioned dataset, a tested model "
    "on the robot, and back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"robotops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """MLOps for robot perception."""


@app.command()
def sim(
    out: Annotated[Path, typer.Argument(help="Folder for the bags and their annotation files.")],
    site: Annotated[
        list[str] | None,
        typer.Option(
            "--site",
            help=f"Office site; repeat for several. Named: {', '.join(SITES)}; "
            "or unseen-N for a new office drawn from N.",
        ),
    ] = None,
    recordings: Annotated[int, typer.Option(help="Recordings per site.")] = 3,
    frames: Annotated[
        int, typer.Option(help="Colour frames per recording (camera at 15 Hz).")
    ] = 24,
    width: Annotated[int, typer.Option(help="Image width in pixels.")] = 160,
    height: Annotated[int, typer.Option(help="Image height in pixels.")] = 120,
    fmt: Annotated[
        BagFormat, typer.Option("--format", help="ROS 2 MCAP, ROS 2 sqlite3, or ROS 1 bag.")
    ] = BagFormat.MCAP,
    compressed: Annotated[
        bool, typer.Option(help="Colour as JPEG CompressedImage instead of raw rgb8 Image.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Same seed, same recordings.")] = 0,
    label_noise: Annotated[
        float,
        typer.Option(help="Probability that a frame's label is wrong (for validation tests)."),
    ] = 0.0,
    missing_labels: Annotated[
        float, typer.Option(help="Probability that a frame has no label.")
    ] = 0.0,
) -> None:
    """Simulate an office robot driving towards doors, and write real bags with ground truth.

    Each recording is one bag (RGB-D camera, LiDAR, camera info, static TF) plus
    RECORDING.labels.json beside it with a label per colour frame. Glass passes depth and LiDAR
    through; wood does not; the camera alone is fooled by tinted glass, frosted glass and open
    doorways.
    """
    config = SimConfig(
        out_dir=out,
        sites=tuple(site or ("atrium",)),
        recordings=recordings,
        frames=frames,
        width=width,
        height=height,
        fmt=fmt,
        compressed=compressed,
        seed=seed,
        faults=LabelFaults(noise=label_noise, missing=missing_labels),
    )
    config.check()
    total = len(config.specs()) * frames
    with frame_progress(console, "simulating", total) as advance:
        written = simulate(config, on_frame=advance)
    console.print(_recordings_table(written))
    console.print(f"wrote {len(written)} recordings to {out}")


def _recordings_table(written: list[SimulatedRecording]) -> Table:
    table = Table(title="recordings")
    for column in ("recording", "site", "class", "variant", "lighting", "frames", "bag"):
        table.add_column(column)
    for rec in written:
        table.add_row(
            rec.recording_id,
            rec.site,
            rec.door_class,
            rec.variant,
            rec.lighting,
            str(rec.frames),
            rec.bag.name,
        )
    return table


@app.command()
def demo(
    workspace: Annotated[
        Path,
        typer.Option(help="Folder for the demo's workspace; a previous demo there is replaced."),
    ] = Path("demo-workspace"),
) -> None:
    """Run the loop end to end on embedded defaults (what `make demo` runs)."""
    report: DemoReport = run_demo(workspace, console)
    console.print(_recordings_table(report.recordings))
    console.print(f"demo workspace: {report.workspace}")


def main() -> None:
    """Entry point of the ``robotops`` console script."""
    try:
        app()
    except RobotopsError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
