"""Hyperparameter sweeps: a search space in YAML, one tracked training run per trial on Ray Tune.

A sweep file names the distributions to sample ``train:`` parameters from, the metric that makes
a trial best, and how many trials to run::

    sweep:
      metric: best_val_acc          # or best_val_loss (the default)
      mode: max                     # max or min (default: what suits the metric)
      trials: 6                     # trials to sample
      max_concurrent: 2             # trials at once (default: as many as the CPUs allow)
      cpus_per_trial: 1             # CPUs (and torch threads) per trial
      seed: 0                       # same seed, same sampled values
      space:
        lr: {loguniform: [0.0001, 0.01]}
        batch_size: {choice: [8, 16]}
        hyper.width: {choice: [8, 16]}         # a dotted key reaches into a section
        augment.flip_prob: {uniform: [0.0, 0.5]}

Every trial is :func:`robotops.train.run.train` on the base parameters (``params.yaml``) with
its sampled values put in, so each is one ordinary MLflow run, checkpointed in the workspace.
The sweep itself is one more MLflow run, the parent: trials carry ``mlflow.parentRunId`` (the
MLflow UI nests them under it) and ``robotops.sweep`` (the parent's id). Ray Tune keeps its own
records under ``WORKSPACE/.robotops/sweeps/SWEEP_ID``.

The whole space is checked against the base parameters before Ray starts: every value a
distribution can give (each choice, both ends of a range) must make valid parameters.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from robotops import errors
from robotops.config import first_error, read_section
from robotops.dataset.store import Store
from robotops.errors import Interrupted, RobotopsError, UsageError, one_line
from robotops.raycluster import connect
from robotops.train.params import TrainParams
from robotops.train.tracking import EXPERIMENT, Tracker, tracking_uri

SWEEPS_DIR = Path(".robotops") / "sweeps"
SWEEP_TAG = "robotops.sweep"
PARENT_TAG = "mlflow.parentRunId"
TRIAL_DIR_PREFIX = "trial-"
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")
SECTIONS = ("early_stopping", "hyper", "preprocess", "augment")


class Metric(StrEnum):
    """What a trial reports that makes it the best."""

    BEST_VAL_ACC = "best_val_acc"
    BEST_VAL_LOSS = "best_val_loss"


class Mode(StrEnum):
    """Whether the best trial has the highest or the lowest metric."""

    MAX = "max"
    MIN = "min"


class Distribution(BaseModel):
    """Where one parameter's values are drawn from: exactly one of the four fields.

    ``choice`` picks one of its values; ``uniform`` and ``loguniform`` draw a float from
    ``[low, high)`` (evenly, or evenly in log space); ``randint`` draws an integer from
    ``[low, high)``, high excluded as in Ray Tune.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    choice: list[Any] | None = Field(None, min_length=1)
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    randint: tuple[int, int] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict) or len(data) != 1:
            raise ValueError(
                "give one distribution: {choice: [a, b, ...]}, {uniform: [low, high]}, "
                "{loguniform: [low, high]} or {randint: [low, high]}"
            )
        kind = next(iter(data))
        if kind not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {kind!r}; known: {', '.join(DISTRIBUTIONS)}")
        return data

    @model_validator(mode="after")
    def _range(self) -> Distribution:
        if self.kind != "choice":
            low, high = self.args
            if not low < high:
                raise ValueError(f"{self.kind} needs low < high, got [{low}, {high}]")
            if self.kind == "loguniform" and low <= 0:
                raise ValueError(f"loguniform needs low > 0, got {low}")
        return self

    @property
    def kind(self) -> str:
        """``choice``, ``uniform``, ``loguniform`` or ``randint``."""
        return next(k for k in DISTRIBUTIONS if getattr(self, k) is not None)

    @property
    def args(self) -> list[Any]:
        """The choices, or ``[low, high]``."""
        return list(getattr(self, self.kind))

    def edges(self) -> list[Any]:
        """Values that bound what the distribution gives: every choice, or both ends of a range.

        A float range also gives the float just above its low end, so a float range for an
        integer parameter is caught before any trial runs.
        """
        if self.kind == "choice":
            return self.args
        low, high = self.args
        if self.kind == "randint":
            return [low, high - 1]
        return [low, math.nextafter(low, high), math.nextafter(high, low)]

    def domain(self) -> Any:
        """The Ray Tune search domain (``ray.tune.choice`` and so on)."""
        from ray import tune

        if self.kind == "choice":
            return tune.choice(self.args)
        return getattr(tune, self.kind)(*self.args)

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(repr(v) for v in self.args)})"


class SweepConfig(BaseModel):
    """The ``sweep:`` section of a sweep file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Metric = Field(Metric.BEST_VAL_LOSS, description="What makes a trial the best.")
    mode: Mode | None = Field(None, description="max or min (default: what suits the metric).")
    trials: int = Field(4, ge=1, le=10_000, description="Trials to sample.")
    max_concurrent: int | None = Field(
        None, ge=1, description="Trials at once (default: as many as the CPUs allow)."
    )
    cpus_per_trial: int = Field(1, ge=1, le=256, description="CPUs and torch threads per trial.")
    seed: int = Field(0, ge=0, description="Seed of the sampling: same seed, same values.")
    space: dict[str, Distribution] = Field(min_length=1, description="Parameter: distribution.")

    @property
    def goal(self) -> Mode:
        """The mode, or the one that suits the metric (max for accuracy, min for loss)."""
        if self.mode is not None:
            return self.mode
        return Mode.MAX if self.metric is Metric.BEST_VAL_ACC else Mode.MIN


def _locate(key: str) -> tuple[str, str | None]:
    """The parameter a sweep key names, and the key inside its section for a dotted one.

    Raises:
        UsageError: No parameter of that name, or a dotted key outside the sections.
    """
    name, _, inner = key.partition(".")
    if name not in TrainParams.model_fields:
        known = ", ".join(TrainParams.model_fields)
        raise UsageError(f"{name!r} is not a train parameter; known: {known}")
    if not inner:
        return name, None
    if name not in SECTIONS:
        raise UsageError(f"train.{name} has no parts: dotted keys reach into {', '.join(SECTIONS)}")
    if "." in inner:
        raise UsageError(f"{key!r} nests too deep: one dot at most, as in hyper.width")
    return name, inner


def apply_overrides(base: TrainParams, values: dict[str, Any]) -> TrainParams:
    """``base`` with ``values`` put in; ``a.b`` keys reach into the sections.

    Raises:
        UsageError: A key names no parameter, or the result is not valid parameters (the
            message names the first offending key, prefixed ``train.``).
    """
    data = base.model_dump(mode="json")
    for key, value in values.items():
        name, inner = _locate(key)
        if inner is None:
            data[name] = value
        else:
            data[name] = {**data[name], inner: value}
    try:
        params = TrainParams.model_validate(data)
        params.spec()
        params.augmentation()
    except ValidationError as err:
        raise UsageError(" ".join(first_error(err, "train").split())) from err
    return params


def load_sweep(path: Path, base: TrainParams) -> SweepConfig:
    """Read the ``sweep:`` section of ``path`` and check its space against ``base``.

    Raises:
        UsageError: The file is missing, not YAML, or a value is invalid; a key names no
            parameter; or a value its distribution can give makes invalid parameters. The
            message names the file and the key.
    """
    section = read_section(path, "sweep file", "sweep", "metric, trials, space, ...")
    try:
        config = SweepConfig.model_validate(section)
    except ValidationError as err:
        raise UsageError(f"{path}: {' '.join(first_error(err, 'sweep').split())}") from err
    for key, dist in config.space.items():
        try:
            _locate(key)
        except UsageError as err:
            raise UsageError(f"{path}: sweep.space.{key}: {err}") from err
        for value in dist.edges():
            try:
                apply_overrides(base, {key: value})
            except UsageError as err:
                raise UsageError(
                    f"{path}: sweep.space.{key}: {dist} can give {value!r}: {err}"
                ) from err
    return config


class TrialStatus(StrEnum):
    """How a trial ended."""

    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"  # never ran or was cut short: the sweep was interrupted


@dataclass(frozen=True)
class TrialResult:
    """One trial of a sweep.

    Attributes:
        number: 1, 2, ... in the order Ray Tune created the trials.
        overrides: The sampled values, by sweep-file key.
        status: How it ended.
        run_id: Its MLflow run (None unless done).
        metrics: ``best_val_acc``, ``best_val_loss``, ``best_epoch`` and ``epochs_run``.
        error: Why it failed, on one line.
        error_type: The failure's exception class name (a robotops error class if it was one).
    """

    number: int
    overrides: dict[str, Any]
    status: TrialStatus
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced.

    Attributes:
        sweep_id: The sweep's MLflow run (the trials' parent), also its ``robotops.sweep`` tag.
        tracking_uri: Where the runs are tracked.
        experiment: The MLflow experiment.
        metric: What makes a trial best.
        mode: Whether highest or lowest is best.
        trials: Every trial, in the order they were created.
        storage: Ray Tune's records of the sweep.
    """

    sweep_id: str
    tracking_uri: str
    experiment: str
    metric: Metric
    mode: Mode
    trials: tuple[TrialResult, ...]
    storage: Path

    def ranked(self) -> list[TrialResult]:
        """Finished trials best first, then failed and stopped ones in creation order."""
        done = [t for t in self.trials if t.status is TrialStatus.DONE]
        sign = -1.0 if self.mode is Mode.MAX else 1.0
        done.sort(key=lambda t: (sign * t.metrics[self.metric], t.number))
        return done + [t for t in self.trials if t.status is not TrialStatus.DONE]

    @property
    def best(self) -> TrialResult | None:
        """The finished trial with the best metric (the first created, on a tie)."""
        ranked = self.ranked()
        return ranked[0] if ranked and ranked[0].status is TrialStatus.DONE else None

    @property
    def interrupted(self) -> bool:
        """Whether some trial was stopped before it finished."""
        return any(t.status is TrialStatus.STOPPED for t in self.trials)


@dataclass(frozen=True)
class _TrialJob:
    """What every trial needs besides its sampled values: plain values that travel to Ray."""

    base: dict[str, Any]
    store: Store
    workspace: Path
    experiment: str
    tracking_uri: str
    sweep_id: str
    cpus: int


def _plain(value: Any) -> Any:
    """NumPy scalars (as Ray Tune samples them) as Python values."""
    return value.item() if hasattr(value, "item") else value


def _run_trial(config: dict[str, Any], job: _TrialJob) -> None:
    """A Ray Tune function trainable: one training run with the trial's values."""
    import torch
    from mlflow import MlflowClient
    from ray import tune

    from robotops.train.run import train

    torch.set_num_threads(job.cpus)
    # train() finds the MLflow store in the environment; a cluster's workers lack the driver's.
    os.environ["MLFLOW_TRACKING_URI"] = job.tracking_uri
    overrides = {k: _plain(v) for k, v in config.items()}
    params = apply_overrides(TrainParams.model_validate(job.base), overrides)
    result = train(params, job.store, job.workspace, experiment=job.experiment)
    client = MlflowClient(job.tracking_uri)
    client.set_tag(result.run_id, SWEEP_TAG, job.sweep_id)
    client.set_tag(result.run_id, PARENT_TAG, job.sweep_id)
    best = result.best
    tune.report(
        {
            "run_id": result.run_id,
            "best_val_acc": best.val_acc,
            "best_val_loss": best.val_loss,
            "best_epoch": float(result.state.best_epoch),
            "epochs_run": float(result.state.epoch),
        }
    )


def _failure(error: BaseException) -> tuple[str, str]:
    """A failed trial's error class and one-line message.

    Ray hands the driver a ``RayTaskError`` whose ``cause`` is the trial's own exception. A
    robotops error is named by its class in :mod:`robotops.errors` (a ``SpecError`` is a
    ``UsageError``), so the driver can fail with the same exit code.
    """
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    if isinstance(error, RobotopsError):
        kind = next(c for c in type(error).__mro__ if getattr(errors, c.__name__, None) is c)
        return kind.__name__, one_line(error)
    return type(error).__name__, f"{type(error).__name__}: {one_line(error)}"


def _trial_from(
    number: int,
    config: dict[str, Any] | None,
    metrics: dict[str, Any] | None,
    error: BaseException | None,
) -> TrialResult:
    """A :class:`TrialResult` from what Ray Tune knows of one trial."""
    overrides = {k: _plain(v) for k, v in (config or {}).items()}
    if error is not None:
        name, message = _failure(error)
        return TrialResult(number, overrides, TrialStatus.FAILED, error=message, error_type=name)
    metrics = metrics or {}
    if "run_id" not in metrics:
        return TrialResult(number, overrides, TrialStatus.STOPPED)
    values = {k: float(metrics[k]) for k in ("best_val_acc", "best_val_loss", "best_epoch",
                                            "epochs_run")}  # fmt: skip
    return TrialResult(number, overrides, TrialStatus.DONE, metrics["run_id"], values)


def _progress_callback(on_trial: Callable[[TrialResult], None]) -> Any:
    """A Ray Tune callback telling ``on_trial`` about each trial as it ends (in the driver)."""
    from ray import cloudpickle
    from ray.tune import Callback

    class Reporter(Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._tell(trial, None)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            # Tune has just written the error beside the trial; its storage copy comes later.
            path = trial.pickled_error_file
            error = cloudpickle.loads(Path(path).read_bytes()) if path else None
            self._tell(trial, error or RuntimeError("the trial failed"))

        def _tell(self, trial: Any, error: BaseException | None) -> None:
            number = _number(trial.trial_id)
            on_trial(_trial_from(number, trial.config, trial.last_result, error))

    return Reporter()


def _trial_dirname(trial: Any) -> str:
    """Tune's folder for a trial (its default repeats every sampled value)."""
    return f"{TRIAL_DIR_PREFIX}{trial.trial_id}"


def _number(trial_id: str) -> int:
    """A trial's number, 1, 2, ...: Tune's trial ids end in a count from 0 (``ab12c_00003``)."""
    return int(trial_id.rsplit("_", 1)[-1]) + 1


@contextmanager
def _quiet_tune() -> Iterator[None]:
    """Keep Ray Tune's own progress tables, trial tracebacks and summaries off the terminal.

    The sweep reports trials itself (``on_trial``); Tune's records stay in its storage folder,
    each failed trial's traceback in its ``error.txt``.
    """
    names = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_PRINT_ALL_TRIAL_ERRORS": "0"}
    before = {name: os.environ.get(name) for name in names}
    tune_logger = logging.getLogger("ray.tune")
    level = tune_logger.level
    os.environ.update(names)
    tune_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        tune_logger.setLevel(level)
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _import_ray() -> Any:
    """The ``ray`` module, with Tune.

    Raises:
        UsageError: Ray or Ray Tune is not installed.
    """
    try:
        import ray
        from ray import tune  # noqa: F401  (Tune is a separate extra of Ray)
    except ImportError as err:
        raise UsageError("robotops sweep needs Ray Tune: pip install 'robotops[ray]'") from err
    return ray


def sweep(
    config: SweepConfig,
    base: TrainParams,
    store: Store,
    workspace: Path,
    *,
    experiment: str = EXPERIMENT,
    address: str | None = None,
    name: str = "sweep",
    on_trial: Callable[[TrialResult], None] | None = None,
) -> SweepResult:
    """Run ``config``'s trials on Ray Tune, each one training run of ``base`` with its values.

    Args:
        config: The sweep (from :func:`load_sweep`, which checks its space against ``base``).
        base: The parameters the sampled values override.
        store: The dataset store; a local one must be reachable from every Ray node.
        workspace: Where runs keep checkpoints and (by default) MLflow its store; on a cluster
            a folder every node sees, with ``MLFLOW_TRACKING_URI`` naming a shared server.
        experiment: The MLflow experiment of the sweep run and its trials.
        address: Ray cluster address (default: a local Ray on this machine's CPUs).
        name: The sweep's MLflow run name.
        on_trial: Told about each trial as it ends.

    Returns:
        Every trial, and through :attr:`SweepResult.best` the best.

    Raises:
        NotFoundError: The base parameters' dataset version does not exist.
        UsageError: Ray Tune is not installed.
        Interrupted: The sweep was stopped before any trial finished.
        RobotopsError: Every trial failed; the class and message are the first failure's.
    """
    workspace = workspace.resolve()
    if "://" not in store.root:
        store = Store(Path(store.root).resolve(), store.storage_options)
    snapshot = store.snapshot(base.dataset)
    ray = _import_ray()
    uri = tracking_uri(workspace)
    # The driver makes the tracking store and experiment, so concurrent trials never race to.
    parent = Tracker(uri, workspace, experiment)
    settings = {**config.model_dump(mode="json", exclude={"space"}), "mode": config.goal.value}
    settings["space"] = {key: str(dist) for key, dist in config.space.items()}
    parent.start(
        name,
        {"sweep": settings},
        {"robotops.dataset": str(snapshot)},
        (snapshot.name, snapshot.digest(), store.uri(snapshot.name, "frames"), str(snapshot)),
    )
    sweep_id = parent.run_id
    parent.client.set_tag(sweep_id, SWEEP_TAG, sweep_id)
    parent.log_dict(base.model_dump(mode="json"), "base_params.json")
    job = _TrialJob(base.model_dump(mode="json"), store, workspace, experiment, uri, sweep_id,
                    config.cpus_per_trial)  # fmt: skip
    storage = workspace / SWEEPS_DIR
    try:
        started = connect(ray, address)
        try:
            trials = _tune(config, job, storage, on_trial)
        finally:
            if started:
                ray.shutdown()
    except BaseException:
        parent.finish("FAILED")
        raise
    result = SweepResult(sweep_id, uri, experiment, config.metric, config.goal, trials,
                         storage / sweep_id)  # fmt: skip
    return _close(parent, result)


def _tune(
    config: SweepConfig,
    job: _TrialJob,
    storage: Path,
    on_trial: Callable[[TrialResult], None] | None,
) -> tuple[TrialResult, ...]:
    """Run the trials on the Ray already started; their results in creation order."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    trainable = tune.with_resources(
        tune.with_parameters(_run_trial, job=job), {"cpu": config.cpus_per_trial}
    )
    tuner = tune.Tuner(
        trainable,
        param_space={key: dist.domain() for key, dist in config.space.items()},
        tune_config=tune.TuneConfig(
            num_samples=config.trials,
            search_alg=BasicVariantGenerator(
                max_concurrent=config.max_concurrent or 0, random_state=config.seed
            ),
            trial_dirname_creator=_trial_dirname,
            reuse_actors=True,  # a trial's process has torch and MLflow imported for the next
        ),
        run_config=tune.RunConfig(
            name=job.sweep_id,
            storage_path=str(storage),
            verbose=0,
            callbacks=[_progress_callback(on_trial)] if on_trial is not None else None,
        ),
    )
    with _quiet_tune():
        grid = tuner.fit()
    trials = (
        _trial_from(
            _number(Path(result.path).name.removeprefix(TRIAL_DIR_PREFIX)),
            result.config,
            result.metrics,
            result.error,
        )
        for result in grid
    )
    return tuple(sorted(trials, key=lambda t: t.number))


def _close(parent: Tracker, result: SweepResult) -> SweepResult:
    """Log the best trial to the sweep run and finish it; raise if no trial finished."""
    best = result.best
    if best is None:
        failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
        if not failed:
            parent.finish("KILLED")
            raise Interrupted(f"sweep {result.sweep_id} stopped before any trial finished")
        parent.finish("FAILED")
        first = failed[0]
        error = getattr(errors, first.error_type or "", None)
        if not (isinstance(error, type) and issubclass(error, RobotopsError)):
            error = RobotopsError
        raise error(
            f"no trial of sweep {result.sweep_id} finished ({len(failed)} of "
            f"{len(result.trials)} failed); trial {first.number}: {first.error}"
        )
    parent.client.set_tag(result.sweep_id, "robotops.sweep.best_run", best.run_id or "")
    parent.log_metrics(best.metrics)  # the sweep's figures are its best trial's
    parent.finish("KILLED" if result.interrupted else "FINISHED")
    return result
