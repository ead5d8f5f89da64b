"""The Typer app, its consoles, and the options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from robotops import __version__
from robotops.config import Config, load_config
from robotops.dataset.store import Store
from robotops.errors import UsageError

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


ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="robotops.yaml to use (default: ./robotops.yaml).")
]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store root (default: the config's, ./datasets).")
]
FormatOption = Annotated[
    str, typer.Option("--format", help="table, markdown (for a pull request) or json.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Same as --format json.")]


def report_format(fmt: str, as_json: bool) -> str:
    """The report format asked for by ``--format`` and ``--json``."""
    fmt = "json" if as_json else fmt
    if fmt not in ("table", "markdown", "json"):
        raise UsageError(f"--format must be table, markdown or json, got {fmt!r}")
    return fmt


def setup(config: Path | None, store: str | None) -> tuple[Config, Store]:
    cfg = load_config(config)
    return cfg, Store(store or cfg.store)


ParamsOption = Annotated[
    Path, typer.Option("--params", "-p", help="Parameters file with a train: section.")
]
WorkspaceOption = Annotated[
    Path,
    typer.Option(
        help="Folder for run checkpoints, the input cache and the default MLflow store "
        "(mlflow.db); MLFLOW_TRACKING_URI overrides the store."
    ),
]
