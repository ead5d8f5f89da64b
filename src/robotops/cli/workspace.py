"""The init command: a new team workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from robotops.cli._app import app, console


@app.command("init")
def init_command(
    folder: Annotated[Path, typer.Argument(help="Folder to create (new or empty).")],
    dataset: Annotated[
        str, typer.Option(help="Dataset pin for params.yaml, NAME@VERSION or NAME@TAG.")
    ] = "doors@1",
    store: Annotated[
        str, typer.Option(help="Store root for robotops.yaml: a folder or s3://bucket/prefix.")
    ] = "datasets",
    dvc: Annotated[bool, typer.Option(help="Run `dvc init` (when DVC is installed).")] = True,
) -> None:
    """Create a workspace: git repository, config, params, DVC pipeline and CI workflows.

    FOLDER gets robotops.yaml (every setting at its default), params.yaml (the dataset pin and
    training parameters), dvc.yaml (validate -> train -> evaluate -> gate -> export),
    requirements.txt, .gitignore, a Dockerfile and .github/workflows/ (pull request: validate,
    train small, evaluate, gate and comment the reports; main: export and register). Then:
    ingest recordings, import labels, pin the version in params.yaml and run `dvc repro`.
    """
    from robotops.workspace.init import init_workspace

    result = init_workspace(folder, dataset=dataset, store=store, dvc=dvc)
    console.print(f"workspace [bold]{result.folder}[/]: {', '.join(result.files)}", soft_wrap=True)
    if not result.dvc:
        console.print("DVC is not installed here: pip install dvc, then run `dvc init` in it")
    console.print(
        f"next: cd {result.folder} && robotops ingest RECORDINGS... && robotops labels import "
        f"LABELS... && set train.dataset in params.yaml && dvc repro",
        soft_wrap=True,
        highlight=False,
    )
