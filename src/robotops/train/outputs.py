"""A finished run's outputs at fixed paths, for pipelines (``robotops train --out DIR``).

A run's own files live under ``runs/RUN_ID/``, a path no pipeline can name in advance. With
``--out`` the best weights, the figures and the epoch history are also copied to fixed names:

* ``best.safetensors``: the best epoch's checkpoint, byte for byte;
* ``metrics.json``: run id, dataset version, best epoch and its losses and accuracies (no
  timings, so the same data, parameters and seed give the same file);
* ``history.csv``: one row per epoch (``epoch, train_loss, train_acc, val_loss, val_acc``),
  for ``dvc plots``.

Each file is written under a temporary name and renamed, so a failed copy leaves no half file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from robotops.errors import OutputError
from robotops.train.run import TrainResult

CHECKPOINT = "best.safetensors"
METRICS = "metrics.json"
HISTORY = "history.csv"
_FIGURES = ("train_loss", "train_acc", "val_loss", "val_acc")


def write_outputs(result: TrainResult, out: Path) -> dict[str, Path]:
    """Copy ``result``'s best weights, figures and history into ``out``; the paths written.

    Raises:
        OutputError: ``out`` cannot be written.
    """
    out = Path(out)
    best = result.best
    metrics = {
        "run_id": result.run_id,
        "dataset": result.snapshot,
        "best_epoch": result.state.best_epoch,
        "epochs": result.state.epoch,
        **{name: round(float(getattr(best, name)), 6) for name in _FIGURES},
    }
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["epoch", *_FIGURES])
    for epoch in result.state.history:
        writer.writerow([epoch.epoch, *(f"{getattr(epoch, n):.6f}" for n in _FIGURES)])
    paths = {"checkpoint": out / CHECKPOINT, "metrics": out / METRICS, "history": out / HISTORY}
    try:
        out.mkdir(parents=True, exist_ok=True)
        _replace(paths["checkpoint"], lambda p: shutil.copyfile(result.checkpoint, p))
        _replace(paths["metrics"], lambda p: p.write_text(json.dumps(metrics, indent=1) + "\n"))
        _replace(paths["history"], lambda p: p.write_text(table.getvalue()))
    except OSError as err:
        raise OutputError(f"{out}: cannot write the run's outputs: {err.strerror or err}") from err
    return paths


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
