"""Checkpoints as safetensors files: weights, optimizer state and a JSON header, never pickle.

A checkpoint says what it holds in its header (``format``, the model's name, class list,
hyperparameters and preprocessing spec, and whatever training state the trainer adds), so a model
can be rebuilt from the file alone: :func:`model_from_checkpoint`. Files are written to a
temporary name and renamed, so a crash mid-write never leaves a truncated checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from robotops.errors import DataError
from robotops.models import DoorClassifier, build_model

FORMAT = "robotops-checkpoint/1"
_MODEL = "model."
_OPTIM = "optim."


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        weights: The model's state dict.
        optimizer: The optimizer's state dict (empty for a weights-only checkpoint).
        meta: The JSON header: ``model``, ``classes``, ``hyper``, ``spec`` and trainer state.
    """

    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    meta: dict[str, Any]


def model_meta(model: DoorClassifier, classes: tuple[str, ...], spec: dict[str, Any]) -> dict:
    """The header fields that rebuild ``model``: name, classes, hyperparameters, spec."""
    return {
        "model": model.name,
        "classes": list(classes),
        "hyper": model.config.model_dump(),
        "spec": spec,
    }


def save_checkpoint(
    path: Path,
    model: DoorClassifier,
    meta: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write ``model`` (and ``optimizer``) with ``meta`` to ``path`` atomically."""
    tensors = {_MODEL + k: v.detach().contiguous() for k, v in model.state_dict().items()}
    header = {"format": FORMAT, **meta}
    if optimizer is not None:
        state = optimizer.state_dict()
        for index, values in state["state"].items():
            for key, value in values.items():
                tensor = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"{_OPTIM}{index}.{key}"] = tensor.detach().contiguous()
        header["optimizer_groups"] = state["param_groups"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    save_file(tensors, str(partial), metadata={"robotops": json.dumps(header)})
    partial.replace(path)
    return path


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        DataError: The file is missing, not safetensors, or not a robotops checkpoint.
    """
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = (handle.metadata() or {}).get("robotops")
        tensors = load_file(str(path))
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such checkpoint") from err
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(f"{path}: not a safetensors checkpoint ({err})") from err
    try:
        meta = json.loads(header or "")
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: safetensors file without a {FORMAT} header")
    weights = {k[len(_MODEL) :]: v for k, v in tensors.items() if k.startswith(_MODEL)}
    optimizer: dict[str, Any] = {}
    if "optimizer_groups" in meta:
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith(_OPTIM):
                index, name = key[len(_OPTIM) :].split(".", 1)
                state.setdefault(int(index), {})[name] = value
        optimizer = {"state": state, "param_groups": meta.pop("optimizer_groups")}
    return Checkpoint(weights, optimizer, meta)


def model_from_checkpoint(
    checkpoint: Checkpoint, path: Path | str = "checkpoint"
) -> DoorClassifier:
    """The model a checkpoint holds, rebuilt and loaded, in eval mode.

    Raises:
        DataError: The header names a model the weights do not fit.
    """
    meta = checkpoint.meta
    model = build_model(meta["model"], len(meta["classes"]), **meta["hyper"])
    try:
        model.load_state_dict(checkpoint.weights, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise DataError(f"{path}: weights do not fit model {meta['model']!r}: {first}") from err
    return model.eval()
