"""The registry on a real MLflow SQLite store: register, gate both ways, promote, roll back.

Each test registers the shared runs under a model name of its own, so tests do not see each
other's versions or aliases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from robotops.config import load_config
from robotops.errors import CheckFailed, ConflictError, NotFoundError, UsageError
from robotops.evaluate.record import metric_name
from robotops.evaluate.results import Evaluation
from robotops.registry import (
    CHALLENGER,
    CHAMPION,
    GateOutcome,
    Registry,
    evaluate_named,
    gate_named,
    parse_version,
    resolve_model,
)
from robotops.train.tracking import tracking_uri
from tests.conftest import ModelPair


def registry(pair: ModelPair, name: str) -> Registry:
    return Registry(tracking_uri(pair.workspace), name)


def gate(pair: ModelPair, name: str, challenger: str, against: str = CHAMPION) -> GateOutcome:
    config = load_config(pair.config(name))
    return gate_named(
        challenger, against, store=pair.store, workspace=pair.workspace, config=config
    )


def test_versions_carry_their_lineage_and_the_newest_is_the_challenger(
    model_pair: ModelPair,
) -> None:
    reg = registry(model_pair, "lineage")
    first = reg.register(model_pair.good)
    second = reg.register(model_pair.bad)
    assert (first.version, second.version) == ("1", "2")
    assert reg.alias(CHALLENGER).version == "2"
    assert reg.alias(CHAMPION) is None
    tags = reg.version("1").tags
    assert tags["robotops.dataset"] == model_pair.ref
    assert tags["params.model"] == "fusion"
    assert float(tags["metrics.best_val_acc"]) > 0.7  # the good model's own validation score
    assert [v.version for v in reg.versions()] == ["2", "1"]
    with pytest.raises(NotFoundError, match="no version 9"):
        reg.version("9")
    with pytest.raises(NotFoundError, match="MLflow run"):
        reg.register("0" * 32)


def test_gate_both_ways_promote_and_roll_back(model_pair: ModelPair) -> None:
    name = "flow"
    reg = registry(model_pair, name)
    good, bad = reg.register(model_pair.good), reg.register(model_pair.bad)

    with pytest.raises(CheckFailed, match="has no gate result"):
        reg.promote(good.version)
    first = gate(model_pair, name, good.ref)  # no champion: absolute floor
    assert first.result.passed and first.champion is None
    assert first.result.checks[0].id == "absolute:accuracy"
    assert reg.version(good.version).tags["robotops.gate"] == "passed"
    assert reg.promote(good.version, who="ana").previous is None
    assert reg.alias(CHAMPION).version == good.version

    refused = gate(model_pair, name, bad.ref)  # the bad model against the good champion
    assert not refused.result.passed
    failed = {c.id for c in refused.result.failures}
    assert "overall" in failed
    assert any(c.startswith("slice:site=") for c in failed)  # says which slice regressed
    assert refused.champion.evaluation.dataset == refused.challenger.evaluation.dataset
    with pytest.raises(CheckFailed, match=f"failed its gate against the champion {name}/1"):
        reg.promote(bad.version)

    forced = reg.promote(bad.version, force=True, reason="field test", who="ben")
    assert forced.forced and forced.gate == "failed" and forced.previous == good.version
    assert reg.alias(CHAMPION).version == bad.version

    # The other way round: the good model gated against the bad champion passes.
    assert gate(model_pair, name, good.ref).result.passed

    back = reg.rollback(reason="forced model misbehaves", who="ana")
    assert (back.action, back.version, back.previous) == ("rollback", good.version, bad.version)
    assert reg.alias(CHAMPION).version == good.version
    history = reg.history()
    assert [(e.action, e.version, e.who, e.forced) for e in history] == [
        ("promote", "1", "ana", False),
        ("promote", "2", "ben", True),
        ("rollback", "1", "ana", False),
    ]
    with pytest.raises(ConflictError, match="nothing to roll back to"):
        reg.rollback()
    with pytest.raises(ConflictError, match="already the champion"):
        reg.promote(good.version)


def test_a_gate_against_an_earlier_champion_does_not_clear_a_promotion(
    model_pair: ModelPair,
) -> None:
    name = "stale"
    reg = registry(model_pair, name)
    good, other = reg.register(model_pair.good), reg.register(model_pair.good)
    assert gate(model_pair, name, other.ref).result.passed  # against no champion
    reg.promote(good.version, force=True)
    with pytest.raises(CheckFailed, match="no gate result against the champion"):
        reg.promote(other.version)


def test_evaluation_is_logged_to_the_training_run_and_tagged_on_the_version(
    model_pair: ModelPair,
) -> None:
    name = "evaluated"
    reg = registry(model_pair, name)
    version = reg.register(model_pair.good)
    config = load_config(model_pair.config(name))
    outcome = evaluate_named(
        f"{name}@{CHALLENGER}",
        store=model_pair.store,
        workspace=model_pair.workspace,
        config=config,
    )
    ev = outcome.evaluation
    assert (ev.model, ev.dataset, ev.split) == (version.ref, model_pair.ref, "val")
    assert set(ev.slices) == {"site"}
    assert ev.overall.frames == 48 and ev.overall.accuracy > 0.7
    assert Evaluation.from_dict(ev.to_dict()) == ev
    assert outcome.logged_to == model_pair.good
    run = reg.client.get_run(model_pair.good)
    assert run.data.metrics["val.accuracy"] == pytest.approx(ev.overall.accuracy)
    assert "val.slice.site.atrium.accuracy" in run.data.metrics
    logged = {a.path for a in reg.client.list_artifacts(model_pair.good, "evaluation")}
    folder = next(iter(logged))
    names = {Path(a.path).name for a in reg.client.list_artifacts(model_pair.good, folder)}
    assert names == {"evaluation.html", "evaluation.md", "evaluation.json"}
    tag = f"eval.{metric_name(model_pair.ref)}.val.accuracy"
    assert float(reg.version(version.version).tags[tag]) == pytest.approx(
        ev.overall.accuracy, abs=1e-5
    )


def test_every_way_of_naming_a_model_finds_the_same_checkpoint(model_pair: ModelPair) -> None:
    name = "named"
    reg = registry(model_pair, name)
    version = reg.register(model_pair.good)
    uri, ws = tracking_uri(model_pair.workspace), model_pair.workspace
    by_alias = resolve_model(f"{name}@{CHALLENGER}", ws, uri, "other")
    by_version = resolve_model(f"{name}/1", ws, uri, "other")
    by_default = resolve_model(CHALLENGER, ws, uri, name)
    by_run = resolve_model(model_pair.good, ws, uri, name)
    by_file = resolve_model(str(by_run.checkpoint), ws, uri, name)
    assert by_alias.checkpoint.read_bytes() == by_run.checkpoint.read_bytes()
    assert by_version.checkpoint == by_alias.checkpoint == by_default.checkpoint
    found = (by_alias.version, by_alias.run_id, by_alias.dataset)
    assert found == (version.version, model_pair.good, model_pair.ref)
    assert by_file.architecture == "fusion" and by_file.version is None
    with pytest.raises(NotFoundError, match="no version with alias 'champion'"):
        resolve_model(CHAMPION, ws, uri, name)
    with pytest.raises(NotFoundError, match="no such checkpoint file"):
        resolve_model("missing.safetensors", ws, uri, name)
    assert parse_version(name, f"{name}/3") == "3"
    with pytest.raises(UsageError):
        parse_version(name, "other/3")
