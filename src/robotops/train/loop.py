"""The training loop: seeded epochs over cached arrays, augmentation, early stopping.

Every random draw of an epoch (the shuffle, the augmentation, dropout) is seeded from the run's
seed and the epoch number alone, so an interrupted run resumed from its last checkpoint goes on
exactly as if it had never stopped, and two runs with the same seed and dataset version give the
same metrics. Files, tracking and progress bars are the caller's: :func:`fit` reports each batch
and epoch through callbacks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from robotops.models import INPUT_NAMES
from robotops.train.data import FrameArrays
from robotops.train.params import TrainParams
from robotops.transforms import AugmentConfig, PreprocessSpec, augment_frame, stack_samples

Inputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch measured; losses are mean cross-entropy per sample."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float
    samples_per_s: float

    def scalars(self) -> dict[str, float]:
        """The metrics to track, without the epoch number."""
        return {k: v for k, v in asdict(self).items() if k != "epoch"}


@dataclass
class TrainState:
    """Where training stands; saved in every checkpoint so a run can resume.

    Attributes:
        epoch: Epochs completed.
        best_epoch: The epoch with the lowest validation loss so far (0 before the first).
        best_val_loss: That loss.
        bad_epochs: Epochs since the last improvement.
        stopped_early: Early stopping ended the run.
        history: Every completed epoch's metrics.
    """

    epoch: int = 0
    best_epoch: int = 0
    best_val_loss: float = math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[EpochMetrics] = field(default_factory=list)

    def finished(self, params: TrainParams) -> bool:
        """Whether training is over: all epochs run, or stopped early."""
        return self.stopped_early or self.epoch >= params.epochs

    def best(self) -> EpochMetrics:
        """The best epoch's metrics."""
        return self.history[self.best_epoch - 1]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for a checkpoint header."""
        data = asdict(self)
        data["best_val_loss"] = None if math.isinf(self.best_val_loss) else self.best_val_loss
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        """Read what :meth:`to_dict` wrote."""
        data = dict(data)
        data["history"] = [EpochMetrics(**h) for h in data["history"]]
        if data["best_val_loss"] is None:
            data["best_val_loss"] = math.inf
        return cls(**data)


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of one epoch, from the run's seed and the epoch number only."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def to_inputs(arrays: dict[str, np.ndarray], rows: np.ndarray | slice) -> Inputs:
    """The model's four input tensors for some rows of stacked arrays."""
    rgb, depth, lidar, present = (torch.from_numpy(arrays[n][rows]) for n in INPUT_NAMES)
    return rgb, depth, lidar, present


def batches(
    data: FrameArrays,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    augment: AugmentConfig,
    spec: PreprocessSpec,
    rank: int = 0,
    world: int = 1,
) -> Iterator[tuple[Inputs, torch.Tensor]]:
    """One epoch's shuffled (and augmented) training batches for worker ``rank`` of ``world``.

    Every worker draws the same permutation and takes every ``world``-th sample of it, cut to an
    equal share, so data-parallel workers step in lockstep and never see the same sample.
    """
    order = np.random.default_rng([seed, epoch]).permutation(len(data))
    share = len(data) // world
    order = order[rank::world][:share]
    rng = np.random.default_rng([seed, epoch, rank, 1])
    augmenting = augment != AugmentConfig()
    for start in range(0, share, batch_size):
        rows = order[start : start + batch_size]
        labels = torch.from_numpy(data.labels[rows])
        if not augmenting:
            yield to_inputs(data.arrays, rows), labels
            continue
        samples = [
            augment_frame({k: v[i] for k, v in data.arrays.items()}, rng, augment, spec)
            for i in rows
        ]
        yield to_inputs(stack_samples(samples), slice(None)), labels


@torch.no_grad()
def predict(model: nn.Module, arrays: dict[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Logits (N, K) for stacked arrays, in eval mode, in batches."""
    model.eval()
    n = arrays["rgb"].shape[0]
    out = [model(*to_inputs(arrays, slice(s, s + batch_size))) for s in range(0, n, batch_size)]
    return torch.cat(out).numpy()


def evaluate(model: nn.Module, data: FrameArrays, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``data``."""
    logits = torch.from_numpy(predict(model, data.arrays, batch_size))
    labels = torch.from_numpy(data.labels)
    loss = nn.functional.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return loss, accuracy


def make_optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    """AdamW with the run's learning rate and weight decay."""
    return torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: FrameArrays,
    val: FrameArrays,
    params: TrainParams,
    state: TrainState,
    *,
    rank: int = 0,
    world: int = 1,
    on_batch: Callable[[int, float, float], None] | None = None,
    on_epoch: Callable[[TrainState, bool], None] | None = None,
) -> TrainState:
    """Train from ``state`` until the last epoch or early stopping; returns the final state.

    Args:
        model: The model, possibly wrapped for data-parallel training.
        optimizer: Its optimizer, restored from a checkpoint when resuming.
        train: Training arrays.
        val: Validation arrays, evaluated whole on every worker.
        params: Epochs, batch size, seed, augmentation, early stopping.
        state: Where to start: a fresh :class:`TrainState` or one from a checkpoint.
        rank: This worker's index.
        world: The number of workers.
        on_batch: Called after each batch with (samples, running loss, running accuracy).
        on_epoch: Called after each epoch with the new state and whether it improved.
    """
    spec, augment = params.spec(), params.augmentation()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    while not state.finished(params):
        epoch = state.epoch + 1
        torch.manual_seed(epoch_seed(params.seed, epoch))
        model.train()
        started, seen, total_loss, correct = time.perf_counter(), 0, 0.0, 0
        for inputs, labels in batches(
            train,
            params.batch_size,
            seed=params.seed,
            epoch=epoch,
            augment=augment,
            spec=spec,
            rank=rank,
            world=world,
        ):
            optimizer.zero_grad(set_to_none=True)
            logits = model(*inputs)
            loss = loss_fn(logits, labels)
            (loss / labels.shape[0]).backward()
            optimizer.step()
            seen += labels.shape[0]
            total_loss += loss.item()
            correct += int((logits.argmax(1) == labels).sum())
            if on_batch is not None:
                on_batch(labels.shape[0], total_loss / seen, correct / seen)
        val_loss, val_acc = evaluate(model, val)
        seconds = time.perf_counter() - started
        state.history.append(
            EpochMetrics(
                epoch,
                total_loss / max(seen, 1),
                correct / max(seen, 1),
                val_loss,
                val_acc,
                seconds,
                seen / seconds if seconds > 0 else 0.0,
            )
        )
        state.epoch = epoch
        improved = val_loss < state.best_val_loss - params.early_stopping.min_delta
        if improved:
            state.best_epoch, state.best_val_loss, state.bad_epochs = epoch, val_loss, 0
        else:
            state.bad_epochs += 1
            state.stopped_early = state.bad_epochs >= params.early_stopping.patience
        if on_epoch is not None:
            on_epoch(state, improved)
    return state
