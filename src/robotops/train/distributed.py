"""Data-parallel training on Ray Train: ``robotops train --workers N``.

The driver (``robotops train``) has already checked the request, loaded the arrays, built the
model and opened the MLflow run; :func:`fit_distributed` then hands the same work to ``N`` Ray
Train workers and waits:

* Every worker gets the driver's initial weights and optimizer state (a fresh run's or the resume
  point's), the parameters, the arrays and a :class:`~robotops.train.run.RecorderSpec`, rebuilds
  the model from the run's header and trains it wrapped in ``DistributedDataParallel`` (gloo, CPU)
  with :func:`~robotops.train.loop.fit`, which gives each worker every N-th sample of the epoch's
  seeded permutation. Gradients are averaged, so all workers hold the same weights throughout.
* After each epoch the workers exchange their figures: rank 0's validation result and stopping
  decision become every worker's (so no worker can stop alone and leave the others waiting), and
  the training loss and accuracy become the means over all workers' shards. Rank 0 then logs the
  epoch to the run's MLflow run and writes ``last.safetensors`` (and ``best.safetensors``) in the
  run folder, exactly as a single-worker run does; every worker reports to Ray Train
  (``ray.train.report`` is a barrier in Ray Train V2, the default).
* The driver reads the final state back from ``last.safetensors``. Live progress cannot cross
  processes simply, so ``on_epoch`` is called in the driver for each epoch once training is over.

The workers write to the run folder and the tracking store by path, so on a multi-node cluster
the workspace must be on a shared filesystem (and MLflow should be a server, not SQLite). Ray
Train's own files go to ``RUN_FOLDER/ray``, never to ``~/ray_results``.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from robotops.errors import RobotopsError, UsageError, one_line
from robotops.models import DoorClassifier, build_model
from robotops.raycluster import connect
from robotops.train.checkpoint import load_checkpoint
from robotops.train.data import FrameArrays
from robotops.train.loop import EpochMetrics, TrainState, fit, make_optimizer
from robotops.train.params import TrainParams
from robotops.train.run import LAST, RecorderSpec

RAY_DIR = "ray"


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs, as plain picklable values."""

    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    params: dict[str, Any]
    train: FrameArrays
    val: FrameArrays
    state: dict[str, Any]
    recorder: RecorderSpec


def fit_distributed(
    model: DoorClassifier,
    optimizer: torch.optim.Optimizer,
    train: FrameArrays,
    val: FrameArrays,
    params: TrainParams,
    state: TrainState,
    *,
    recorder: RecorderSpec,
    workers: int,
    address: str | None = None,
    on_epoch: Callable[[EpochMetrics, bool], None] | None = None,
) -> TrainState:
    """Train from ``state`` on ``workers`` Ray Train workers; returns ``state``, brought up to date.

    Checkpoints and metrics are written by rank 0 as they happen (see the module docstring).
    Afterwards ``state``, ``model`` and ``optimizer`` are read back from ``last.safetensors``:
    they end where training ended, as after :func:`~robotops.train.loop.fit`.

    Args:
        model: The initial model (fresh, or loaded from the resume point).
        optimizer: Its optimizer.
        train: Training arrays, sharded across the workers.
        val: Validation arrays, evaluated whole on every worker.
        params: The run's parameters.
        state: Where to start.
        recorder: How rank 0 logs and checkpoints each epoch.
        workers: Data-parallel workers (one CPU each).
        address: Ray cluster address (default: connect to a running Ray or start a local one).
        on_epoch: Called in the driver with each new epoch's metrics and whether it improved,
            after training has finished.

    Raises:
        UsageError: Ray is not installed, the cluster is unreachable, or a local Ray has fewer
            CPUs than ``workers``.
        RobotopsError: A worker failed: its own error if it is a robotops one, else one line
            naming the worker and the cause.
        KeyboardInterrupt: Stopped by Ctrl-C (which Ray Train turns into an abort of the run);
            ``state`` holds the last completed epoch.
    """
    try:
        import ray
        from ray.train import FailureConfig, RunConfig, ScalingConfig, TrainingFailedError
        from ray.train.torch import TorchConfig, TorchTrainer
    except ImportError as err:
        raise UsageError("--workers needs Ray Train: pip install 'robotops[ray]'") from err

    # Workers run in other processes (and directories): give them absolute paths.
    recorder = replace(
        recorder, folder=recorder.folder.resolve(), workspace=recorder.workspace.resolve()
    )
    before, interrupted = state.epoch, False
    started = connect(ray, address)
    try:
        if address is None and not os.environ.get("RAY_ADDRESS"):  # a local Ray: no autoscaler
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if cpus < workers:
                raise UsageError(
                    f"--workers {workers} needs {workers} CPUs, the local Ray has {cpus}: "
                    f"use --workers {max(cpus, 1)} or a Ray cluster (--address)"
                )
        job = _Job(
            weights={k: v.detach().clone() for k, v in model.state_dict().items()},
            optimizer=optimizer.state_dict(),
            params=params.model_dump(),
            train=train,
            val=val,
            state=state.to_dict(),
            recorder=recorder,
        )
        trainer = TorchTrainer(
            _train_worker,
            train_loop_config={"job": job},
            torch_config=TorchConfig(backend="gloo"),
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=False),
            run_config=RunConfig(
                storage_path=str(recorder.folder / RAY_DIR),
                failure_config=FailureConfig(max_failures=0),
            ),
        )
        with _own_sigint():
            try:
                trainer.fit()
            except SystemExit:
                # Ray Train answers Ctrl-C by aborting the run; the driver then gets SystemExit.
                interrupted = True
    except TrainingFailedError as err:
        raise _failure(err) from None
    finally:
        if started:
            ray.shutdown()

    last = recorder.folder / LAST
    if last.is_file():  # absent only when stopped before the first epoch of a fresh run
        checkpoint = load_checkpoint(last)
        _copy_into(state, TrainState.from_dict(checkpoint.meta["state"]))
        model.load_state_dict(checkpoint.weights)
        optimizer.load_state_dict(checkpoint.optimizer)
    if interrupted or not state.finished(params):
        raise KeyboardInterrupt  # the caller's state says how far it got
    if on_epoch is not None:
        for metrics, improved in _improvements(state, params):
            if metrics.epoch > before:
                on_epoch(metrics, improved)
    return state


@contextmanager
def _own_sigint() -> Iterator[None]:
    """Put back the SIGINT handler that ``TorchTrainer.fit`` replaces with its own."""
    if threading.current_thread() is not threading.main_thread():
        yield  # fit only replaces the handler in the main thread
        return
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


def _failure(err: Exception) -> RobotopsError:
    """One line for a failed Ray Train run: a worker's own robotops error, else the first cause."""
    failures: dict[int, BaseException] = getattr(err, "worker_failures", None) or {}
    if failures:
        # Our own error names the cause; others may only be echoes of it (a lost peer).
        errors = [failures[rank] for rank in sorted(failures)]
        ours = [e for e in errors if isinstance(e, RobotopsError)]
        if ours:
            return ours[0]  # already one line, with its own exit code
        rank = min(failures)
        cause = failures[rank]
        where = f"on worker {rank}"
    else:
        cause = getattr(err, "controller_failure", None) or err
        where = "in Ray Train"
    return RobotopsError(
        f"distributed training failed {where}: {type(cause).__name__}: {one_line(cause)}"
    )


def _improvements(state: TrainState, params: TrainParams) -> list[tuple[EpochMetrics, bool]]:
    """Each epoch's metrics with whether it improved, decided as :func:`fit` decides it."""
    best, out = math.inf, []
    for metrics in state.history:
        improved = metrics.val_loss < best - params.early_stopping.min_delta
        best = metrics.val_loss if improved else best
        out.append((metrics, improved))
    return out


def _train_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: rebuild the model, wrap it in DDP and run :func:`fit` on a shard."""
    import ray.train
    from ray.train.torch import prepare_model

    job: _Job = config["job"]
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    params = TrainParams.model_validate(job.params)
    meta = job.recorder.meta
    model = build_model(meta["model"], len(meta["classes"]), **meta["hyper"])
    model.load_state_dict(job.weights)
    wrapped = prepare_model(model, move_to_device=False)  # DDP on CPU (gloo) for world > 1
    optimizer = make_optimizer(model, params)
    optimizer.load_state_dict(job.optimizer)
    recorder = job.recorder.build() if rank == 0 else None

    def after_epoch(state: TrainState, improved: bool) -> None:
        improved = _agree(state, improved)
        if recorder is not None:
            recorder.epoch(state, improved, model, optimizer)  # the unwrapped module's weights
        last = state.history[-1]
        ray.train.report({"epoch": last.epoch, "improved": improved, **last.scalars()})

    fit(wrapped, optimizer, _writable(job.train), _writable(job.val), params,
        TrainState.from_dict(job.state), rank=rank, world=world, on_epoch=after_epoch)  # fmt: skip
    if recorder is not None:
        recorder.tracker.flush()


def _agree(state: TrainState, improved: bool) -> bool:
    """Make ``state`` rank 0's on every worker, with training figures over all shards.

    Workers hold the same weights, so their validation results agree, but deciding on rank 0's
    alone guarantees that all stop at the same epoch. The shards are of equal size, so the plain
    mean of the workers' training loss and accuracy is the epoch's.
    """
    import torch.distributed as dist

    shared: list[Any] = [None] * (dist.get_world_size() if dist.is_initialized() else 1)
    if dist.is_initialized():
        dist.all_gather_object(shared, (state.to_dict(), improved))
    else:
        shared[0] = (state.to_dict(), improved)
    lead = TrainState.from_dict(shared[0][0])
    shards = [TrainState.from_dict(s).history[-1] for s, _ in shared]
    lead.history[-1] = replace(
        lead.history[-1],
        train_loss=float(np.mean([s.train_loss for s in shards])),
        train_acc=float(np.mean([s.train_acc for s in shards])),
        seconds=max(s.seconds for s in shards),
        samples_per_s=sum(s.samples_per_s for s in shards),
    )
    _copy_into(state, lead)
    return bool(shared[0][1])


def _copy_into(state: TrainState, source: TrainState) -> None:
    """Make ``state`` equal to ``source`` in place (the loop and the caller hold ``state``)."""
    for field in fields(TrainState):
        setattr(state, field.name, getattr(source, field.name))


def _writable(data: FrameArrays) -> FrameArrays:
    # Arrays from Ray's object store are read-only views; torch wants writable memory.
    arrays = {k: v if v.flags.writeable else v.copy() for k, v in data.arrays.items()}
    labels = data.labels if data.labels.flags.writeable else data.labels.copy()
    return replace(data, arrays=arrays, labels=labels)
