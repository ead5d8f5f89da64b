"""Commands that train: train and sweep."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from robotops.cli._app import (
    ConfigOption,
    ParamsOption,
    StoreOption,
    WorkspaceOption,
    app,
    console,
    setup,
)
from robotops.errors import NotFoundError
from robotops.progress import TrainBars

if TYPE_CHECKING:
    from robotops.train.run import TrainResult
    from robotops.train.sweep import SweepResult, TrialResult


@app.command("train")
def train_command(
    params_file: ParamsOption = Path("params.yaml"),
    resume: Annotated[
        str | None,
        typer.Option(
            help="MLflow run id of an interrupted run: go on from its last completed epoch."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Data-parallel workers; above 1 trains on Ray Train (DDP, gloo).")
    ] = 1,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --workers (default: a local Ray).")
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "robotops-train",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also copy the best checkpoint, metrics.json and history.csv here (fixed "
            "paths for a pipeline such as dvc.yaml)."
        ),
    ] = None,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Train a door classifier on a dataset version, tracked in MLflow.

    Everything comes from the train: section of params.yaml (dataset version, model, epochs,
    learning rate, seed, preprocessing, augmentation); the same file and version train the same
    model. Each epoch writes a safetensors checkpoint; Ctrl-C stops cleanly and prints the
    command that resumes the run.
    """
    from robotops.train.params import load_params
    from robotops.train.run import train  # torch and MLflow: loaded only when training

    params = load_params(params_file)
    _, dataset_store = setup(config, store)
    try:
        dataset_store.snapshot(params.dataset)
    except NotFoundError as err:
        raise NotFoundError(f"{params_file}: train.dataset: {err}") from err
    with TrainBars(console) as bars:
        result = train(
            params,
            dataset_store,
            workspace,
            resume=resume,
            experiment=experiment,
            workers=workers,
            address=address,
            progress=bars,
        )
    print_training(result)
    if out is not None:
        from robotops.train.outputs import write_outputs

        written = write_outputs(result, out)
        console.print(
            f"best checkpoint, metrics and history in {out}: {written['checkpoint']}",
            soft_wrap=True,
            highlight=False,
        )


def print_training(result: TrainResult) -> None:
    """Print a finished run: best epoch, confusion matrix, where it is tracked."""
    from robotops.train.tracking import ui_command

    best = result.best
    stop = "stopped early" if result.state.stopped_early else "all epochs run"
    console.print(
        f"trained on [bold]{result.snapshot}[/]: best epoch {result.state.best_epoch} of "
        f"{result.state.epoch} ({stop}), val accuracy {best.val_acc:.3f}, "
        f"val loss {best.val_loss:.4f}"
    )
    table = Table(title="validation confusion matrix (rows: true)")
    table.add_column("")
    for name in result.classes:
        table.add_column(name, justify="right")
    for name, row in zip(result.classes, result.confusion, strict=True):
        table.add_row(name, *(str(v) for v in row))
    console.print(table)
    console.print(f"checkpoint: {result.checkpoint}")
    console.print(f"MLflow run {result.run_id} in {result.tracking_uri}")
    console.print(f"open it with: {ui_command(result.tracking_uri)}", soft_wrap=True)


@app.command("sweep")
def sweep_command(
    sweep_file: Annotated[
        Path,
        typer.Argument(
            help="YAML with a sweep: section: metric (best_val_acc or best_val_loss), mode "
            "(max or min), trials, max_concurrent, cpus_per_trial, seed, and space: a "
            "distribution per parameter, e.g. lr: {loguniform: [0.0001, 0.01]}, "
            "hyper.width: {choice: [8, 16]}; also uniform: [low, high] and randint: [low, high]."
        ),
    ],
    params_file: ParamsOption = Path("params.yaml"),
    trials: Annotated[
        int | None, typer.Option(min=1, help="Trials to run (default: the sweep file's).")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster address (default: a local Ray on this machine's CPUs). The "
            "cluster needs robotops installed, the store and workspace on storage every node "
            "sees, and MLFLOW_TRACKING_URI pointing at a shared tracking server."
        ),
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "robotops-train",
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Search hyperparameters: trials on Ray Tune, each one training run tracked in MLflow.

    Each trial trains the train: section of params.yaml with its sampled values put in, exactly
    as `robotops train` would, checkpoints and all. The sweep is an MLflow run of its own with
    the trials nested under it (tag robotops.sweep). The whole space is checked against
    params.yaml before Ray starts. Prints the trials best first and the best run's id.
    """
    from robotops.train.params import load_params
    from robotops.train.sweep import load_sweep, sweep  # Ray, torch and MLflow: loaded here

    params = load_params(params_file)
    spec = load_sweep(sweep_file, params)
    if trials is not None:
        spec = spec.model_copy(update={"trials": trials})
    _, dataset_store = setup(config, store)
    try:
        dataset_store.snapshot(params.dataset)
    except NotFoundError as err:
        raise NotFoundError(f"{params_file}: train.dataset: {err}") from err
    where = f"Ray at {address}" if address else "a local Ray"
    count = f"{spec.trials} trial{'s' if spec.trials != 1 else ''}"
    console.print(
        f"sweeping {count} of {params.model} on {params.dataset} with {where}; "
        f"best is the {spec.goal.value} {spec.metric.value}"
    )
    result = sweep(
        spec,
        params,
        dataset_store,
        workspace,
        experiment=experiment,
        address=address,
        name=f"sweep-{sweep_file.stem}",
        on_trial=_print_trial,
    )
    _print_sweep(result)


def _print_trial(trial: TrialResult) -> None:
    if trial.run_id is not None:
        m = trial.metrics
        console.print(
            f"trial {trial.number} done: val acc {m['best_val_acc']:.3f}, val loss "
            f"{m['best_val_loss']:.4f} (run {trial.run_id})"
        )
    elif trial.error is not None:
        console.print(f"[red]trial {trial.number} failed[/]: {trial.error}", soft_wrap=True)


def _print_sweep(result: SweepResult) -> None:
    from robotops.errors import Interrupted
    from robotops.train.sweep import TrialStatus
    from robotops.train.tracking import ui_command

    keys = list(dict.fromkeys(k for t in result.trials for k in t.overrides))
    table = Table(title=f"sweep {result.sweep_id}: trials by {result.metric} ({result.mode})")
    for column in ("", "trial", *keys, "val acc", "val loss", "best epoch", "MLflow run"):
        table.add_column(column, justify="right" if column in ("trial", "best epoch") else "left")
    best = result.best
    for trial in result.ranked():
        values = [_value(trial.overrides.get(k)) for k in keys]
        if trial.status is TrialStatus.DONE:
            m = trial.metrics
            scores = [f"{m['best_val_acc']:.3f}", f"{m['best_val_loss']:.4f}",
                      str(int(m["best_epoch"])), trial.run_id or ""]  # fmt: skip
        else:
            colour = "red" if trial.status is TrialStatus.FAILED else "yellow"
            scores = ["", "", "", f"[{colour}]{trial.status}[/]"]
        mark = "[bold green]best[/]" if trial is best else ""
        table.add_row(mark, str(trial.number), *values, *scores)
    console.print(table)
    for trial in result.trials:
        if trial.status is TrialStatus.FAILED:
            console.print(f"[red]trial {trial.number} failed[/]: {trial.error}", soft_wrap=True)
    if best is not None:
        console.print(
            f"best: trial {best.number}, {result.metric} {best.metrics[result.metric]:.4f}, "
            f"MLflow run [bold]{best.run_id}[/]"
        )
    console.print(f"sweep run {result.sweep_id} in {result.tracking_uri}", soft_wrap=True)
    console.print(f"open it with: {ui_command(result.tracking_uri)}", soft_wrap=True)
    if result.interrupted:
        done = sum(t.status is TrialStatus.DONE for t in result.trials)
        raise Interrupted(
            f"sweep {result.sweep_id} stopped: {done} of {len(result.trials)} trials finished"
        )


def _value(value: object) -> str:
    """A sampled value, short enough for a table cell."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
