"""The ``models`` commands: the registry's versions, aliases, promotions and rollbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from robotops.cli._app import ConfigOption, WorkspaceOption, app, console
from robotops.config import load_config

if TYPE_CHECKING:
    from robotops.registry import Promotion, Registry

models_app = typer.Typer(
    help="Registered model versions: list, show, register, promote, roll back.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")

NameOption = Annotated[
    str | None,
    typer.Option("--name", help="Registered model (default: registry.model, door-classifier)."),
]
ReasonOption = Annotated[str | None, typer.Option(help="Why; kept in the promotion history.")]


def _registry(name: str | None, workspace: Path, config: Path | None) -> Registry:
    from robotops.registry import Registry  # MLflow: loaded only when needed
    from robotops.train.tracking import tracking_uri

    return Registry(tracking_uri(workspace), name or load_config(config).registry.model)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


@models_app.command("list")
def models_list(
    name: NameOption = None, workspace: WorkspaceOption = Path("."), config: ConfigOption = None
) -> None:
    """List the registered versions, newest first, with aliases, lineage and gate results."""
    registry = _registry(name, workspace, config)
    versions = registry.versions()
    if not versions:
        console.print(f"model {registry.name} has no versions: robotops models register RUN_ID")
        return
    table = Table(title=f"{registry.name} in {registry.uri}")
    for column in ("version", "aliases", "model", "dataset", "val acc", "gate", "registered"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            v.tags.get("params.model", ""),
            v.dataset or "",
            v.tags.get("metrics.best_val_acc", ""),
            v.tags.get("robotops.gate", ""),
            _when(v.created_ms),
        )
    console.print(table)


@models_app.command("show")
def models_show(
    version: Annotated[
        str | None,
        typer.Argument(help="A version (3 or NAME/3); without it, the model and its history."),
    ] = None,
    name: NameOption = None,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
) -> None:
    """Show one version's lineage, metrics and gate, or the model's aliases and history."""
    from robotops.registry import parse_version

    registry = _registry(name, workspace, config)
    if version is None:
        aliases = {a: registry.alias(a) for a in ("champion", "challenger")}
        for alias, found in aliases.items():
            console.print(f"{alias}: {found.ref if found else '(none)'}")
        print_history(registry.history())
        return
    found = registry.version(parse_version(registry.name, version))
    console.print(f"[bold]{found.ref}[/] registered {_when(found.created_ms)}")
    console.print(f"aliases: {', '.join(found.aliases) or '(none)'}; run: {found.run_id}")
    table = Table(title="tags")
    table.add_column("tag")
    table.add_column("value")
    for key, value in sorted(found.tags.items()):
        table.add_row(key, value)
    console.print(table)


def print_history(events: list[Promotion]) -> None:
    """Print the promotion history, oldest first."""
    table = Table(title="promotion history")
    for column in ("when", "action", "version", "before", "who", "gate", "reason"):
        table.add_column(column)
    for e in events:
        gate = f"{e.gate} [bold red](forced)[/]" if e.forced else e.gate
        table.add_row(e.at, e.action, e.version, e.previous or "", e.who, gate, e.reason or "")
    console.print(table if events else "no promotions yet")


@models_app.command("register")
def models_register(
    run_id: Annotated[str, typer.Argument(help="The finished training run (MLflow run id).")],
    name: NameOption = None,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
) -> None:
    """Register a training run's model as a new version and make it the challenger."""
    registry = _registry(name, workspace, config)
    version = registry.register(run_id)
    console.print(
        f"registered {version.ref} (alias challenger) from run {run_id}, "
        f"trained on {version.dataset}"
    )
    console.print(f"next: robotops gate {version.ref}")


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="The version to make champion (3 or NAME/3).")],
    force: Annotated[
        bool,
        typer.Option(help="Promote without a passing gate; the history records it as forced."),
    ] = False,
    reason: ReasonOption = None,
    name: NameOption = None,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
) -> None:
    """Make a version the champion: only with a passing gate against the current champion."""
    from robotops.registry import parse_version

    registry = _registry(name, workspace, config)
    event = registry.promote(parse_version(registry.name, version), force=force, reason=reason)
    before = f" (was {registry.name}/{event.previous})" if event.previous else ""
    forced = " [bold red]FORCED without a passing gate[/]" if event.forced else ""
    console.print(f"{registry.name}/{event.version} is the champion{before}{forced}")


@models_app.command("rollback")
def models_rollback(
    reason: ReasonOption = None,
    name: NameOption = None,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
) -> None:
    """Give the champion alias back to the previous champion."""
    registry = _registry(name, workspace, config)
    event = registry.rollback(reason=reason)
    console.print(
        f"rolled back: {registry.name}/{event.version} is the champion again "
        f"(was {registry.name}/{event.previous})"
    )
