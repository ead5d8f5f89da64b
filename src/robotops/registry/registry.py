"""Registered model versions in the MLflow model registry: lineage, aliases and promotions.

Each training run that matters becomes a version of one registered model (``registry.model`` in
``robotops.yaml``, ``door-classifier`` by default), tagged with what it was made from: dataset
version and digest, git commit, architecture and its run's metrics. Two aliases say what each
version is for: ``challenger`` (the newest candidate) and ``champion`` (what the robots run).

MLflow keeps no history of aliases, so every promotion and rollback is written as a tag on the
registered model (``robotops.history.000001``, ...), holding who, when, the version before and
the gate's result. A promotion needs a passing gate recorded on the version against the current
champion; ``force`` overrides that and the history says so.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from robotops.errors import CheckFailed, ConflictError, NotFoundError, UsageError
from robotops.evaluate.results import GateResult

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "robotops.history."
GATE_TAG = "robotops.gate"
GATE_AGAINST_TAG = "robotops.gate.against"
NO_CHAMPION = "none"
_LINEAGE_RUN_TAGS = {
    "robotops.dataset": "robotops.dataset",
    "mlflow.source.git.commit": "git.commit",
    "robotops.git_dirty": "git.dirty",
}


def current_user() -> str:
    """Who is acting: ``ROBOTOPS_USER``, else the CI actor, else the login name."""
    return os.environ.get("ROBOTOPS_USER") or os.environ.get("GITHUB_ACTOR") or getpass.getuser()


@dataclass(frozen=True)
class ModelVersion:
    """One registered version.

    Attributes:
        name: The registered model.
        version: Its version number, as MLflow gives it (a string).
        run_id: The training run.
        aliases: ``champion``, ``challenger`` or none.
        tags: Lineage, metrics, gate result, bundle hash.
        created_ms: Registration time, milliseconds since the epoch.
    """

    name: str
    version: str
    run_id: str | None
    aliases: tuple[str, ...]
    tags: dict[str, str]
    created_ms: int

    @property
    def ref(self) -> str:
        """``NAME/VERSION``."""
        return f"{self.name}/{self.version}"

    @property
    def dataset(self) -> str | None:
        """The dataset version it was trained on."""
        return self.tags.get("robotops.dataset")


@dataclass(frozen=True)
class Promotion:
    """One change of the champion.

    Attributes:
        action: ``promote`` or ``rollback``.
        version: The new champion.
        previous: The champion before, or None.
        who: Who did it.
        at: ISO 8601 time.
        gate: ``passed``, ``failed`` or ``missing`` (``n/a`` for a rollback).
        forced: Promoted without a passing gate.
        reason: Why, when given.
    """

    action: str
    version: str
    previous: str | None
    who: str
    at: str
    gate: str
    forced: bool = False
    reason: str | None = None


class Registry:
    """One registered model in an MLflow registry.

    Args:
        tracking_uri: The MLflow tracking (and registry) URI.
        name: The registered model's name.
    """

    def __init__(self, tracking_uri: str, name: str) -> None:
        self.uri, self.name = tracking_uri, name
        self.client = MlflowClient(tracking_uri, registry_uri=tracking_uri)

    def _ensure_model(self) -> None:
        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            self.client.create_registered_model(
                self.name, description="Door classifiers registered by robotops."
            )

    def register(self, run_id: str) -> ModelVersion:
        """Register the model of training run ``run_id`` as a new version, alias ``challenger``.

        Raises:
            NotFoundError: No such run, or the run logged no checkpoint (it did not finish).
        """
        try:
            run = self.client.get_run(run_id)
        except MlflowException as err:
            raise NotFoundError(f"MLflow run {run_id} is not in {self.uri}") from err
        logged = [a.path for a in self.client.list_artifacts(run_id, "checkpoint")]
        if "checkpoint/best.safetensors" not in logged:
            raise NotFoundError(
                f"run {run_id} has no checkpoint/best.safetensors (status {run.info.status}): "
                "only a finished training run can be registered"
            )
        tags = {
            ours: run.data.tags[theirs]
            for theirs, ours in _LINEAGE_RUN_TAGS.items()
            if theirs in run.data.tags
        }
        tags.update({f"metrics.{k}": f"{v:.6g}" for k, v in run.data.metrics.items()})
        for key in ("model", "dataset", "dataset_version", "seed"):
            if key in run.data.params:
                tags[f"params.{key}"] = run.data.params[key]
        self._ensure_model()
        created = self.client.create_model_version(
            self.name, source=f"runs:/{run_id}/checkpoint", run_id=run_id, tags=tags
        )
        self.client.set_registered_model_alias(self.name, CHALLENGER, created.version)
        return self.version(created.version)

    def _aliases(self) -> dict[str, str]:
        try:
            return dict(self.client.get_registered_model(self.name).aliases)
        except MlflowException:
            return {}

    def versions(self) -> list[ModelVersion]:
        """Every version, newest first (none when the model is not registered yet)."""
        aliases = self._aliases()
        found = self.client.search_model_versions(f"name='{self.name}'")
        return sorted((self._version(v, aliases) for v in found), key=lambda v: -int(v.version))

    def _version(self, entity: Any, aliases: dict[str, str]) -> ModelVersion:
        mine = tuple(sorted(a for a, v in aliases.items() if str(v) == str(entity.version)))
        return ModelVersion(
            self.name,
            str(entity.version),
            entity.run_id,
            mine,
            dict(entity.tags),
            int(entity.creation_timestamp),
        )

    def version(self, version: str) -> ModelVersion:
        """One version.

        Raises:
            NotFoundError: There is no such version.
        """
        try:
            entity = self.client.get_model_version(self.name, str(version))
        except MlflowException as err:
            raise NotFoundError(f"model {self.name} has no version {version}") from err
        return self._version(entity, self._aliases())

    def alias(self, alias: str) -> ModelVersion | None:
        """The version holding ``alias``, or None."""
        version = self._aliases().get(alias)
        return None if version is None else self.version(str(version))

    def tag_version(self, version: str, key: str, value: str) -> None:
        """Set one tag on a version (evaluation metrics, bundle hash)."""
        self.client.set_model_version_tag(self.name, str(version), key, value)

    def record_gate(self, version: str, result: GateResult, champion: str | None) -> None:
        """Note on ``version`` that it passed or failed its gate against ``champion``."""
        for key, value in {
            GATE_TAG: "passed" if result.passed else "failed",
            GATE_AGAINST_TAG: champion or NO_CHAMPION,
            f"{GATE_TAG}.at": result.created_at,
            f"{GATE_TAG}.dataset": f"{result.dataset} {result.split}",
            f"{GATE_TAG}.failed": ", ".join(c.id for c in result.failures)[:4000],
        }.items():
            self.tag_version(version, key, value)

    def history(self) -> list[Promotion]:
        """Every promotion and rollback, oldest first."""
        try:
            tags = self.client.get_registered_model(self.name).tags
        except MlflowException:
            return []
        events = sorted((k, v) for k, v in tags.items() if k.startswith(HISTORY_TAG))
        return [Promotion(**json.loads(v)) for _, v in events]

    def _record(self, event: Promotion) -> None:
        key = f"{HISTORY_TAG}{len(self.history()) + 1:06d}"
        self.client.set_registered_model_tag(self.name, key, json.dumps(asdict(event)))

    def promote(
        self,
        version: str,
        *,
        force: bool = False,
        reason: str | None = None,
        who: str | None = None,
    ) -> Promotion:
        """Make ``version`` the champion.

        Raises:
            NotFoundError: No such version.
            ConflictError: It is the champion already.
            CheckFailed: Its gate against the current champion failed or was never run, and
                ``force`` is not set.
        """
        target = self.version(version)
        champion = self.alias(CHAMPION)
        if champion is not None and champion.version == target.version:
            raise ConflictError(f"{target.ref} is already the champion")
        against = champion.version if champion is not None else NO_CHAMPION
        gate = target.tags.get(GATE_TAG)
        if gate is not None and target.tags.get(GATE_AGAINST_TAG) != against:
            gate = None  # gated against an earlier champion: stale
        gate = gate or "missing"
        if gate != "passed" and not force:
            versus = f"the champion {champion.ref}" if champion else "the absolute thresholds"
            why = (
                f"failed its gate against {versus} ({target.tags.get(f'{GATE_TAG}.failed')})"
                if gate == "failed"
                else f"has no gate result against {versus}"
            )
            raise CheckFailed(
                f"{target.ref} {why}: run `robotops gate {target.ref}`, "
                "or promote with --force --reason"
            )
        event = Promotion(
            "promote",
            target.version,
            None if champion is None else champion.version,
            who or current_user(),
            datetime.now(UTC).isoformat(timespec="seconds"),
            gate,
            forced=gate != "passed",
            reason=reason,
        )
        self.client.set_registered_model_alias(self.name, CHAMPION, target.version)
        if CHALLENGER in target.aliases:
            self.client.delete_registered_model_alias(self.name, CHALLENGER)
        self._record(event)
        return event

    def rollback(self, *, reason: str | None = None, who: str | None = None) -> Promotion:
        """Give the champion alias back to the version that held it before.

        Raises:
            ConflictError: There is no champion, or no earlier one to go back to.
        """
        champion = self.alias(CHAMPION)
        if champion is None:
            raise ConflictError(f"model {self.name} has no champion to roll back")
        reigns: list[str] = []  # champions in order; a rollback ends the latest reign
        for event in self.history():
            if event.action == "promote":
                reigns.append(event.version)
            elif reigns:
                reigns.pop()
        if len(reigns) < 2:
            raise ConflictError(
                f"{champion.ref} is the first champion of {self.name}: nothing to roll back to"
            )
        previous = reigns[-2]
        event = Promotion(
            "rollback",
            previous,
            champion.version,
            who or current_user(),
            datetime.now(UTC).isoformat(timespec="seconds"),
            "n/a",
            reason=reason,
        )
        self.client.set_registered_model_alias(self.name, CHAMPION, previous)
        self._record(event)
        return event


def parse_version(name: str, text: str) -> str:
    """A version number given as ``3`` or ``NAME/3``.

    Raises:
        UsageError: It is neither, or names another model.
    """
    model, _, number = text.rpartition("/")
    if (model and model != name) or not number.isdigit():
        raise UsageError(f"{text!r} is not a version of {name} (give a number or {name}/N)")
    return number
