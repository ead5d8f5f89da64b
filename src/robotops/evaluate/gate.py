"""The promotion gate: may a challenger replace the champion?

A challenger passes only if, scored on the same dataset version and split as the champion:

* its overall metric is not below the champion's minus ``tolerance``;
* no slice with at least ``min_slice_frames`` frames loses more than ``slice_tolerance``
  accuracy against the champion's figure on that slice;
* every behavioural test passes.

With no champion yet, the overall metric must reach the absolute floor ``min_metric`` instead
(the behavioural tests hold the slice floors either way).
"""

from __future__ import annotations

from datetime import UTC, datetime

from robotops.config import GateSettings
from robotops.errors import UsageError
from robotops.evaluate.results import Evaluation, GateCheck, GateResult


def _behaviour_checks(challenger: Evaluation) -> list[GateCheck]:
    checks = []
    for test in challenger.behaviour:
        detail = test.detail if test.passed is not None else f"{test.detail} (not gating)"
        checks.append(
            GateCheck(
                f"behaviour:{test.id}",
                test.passed is not False,
                test.measured,
                None,
                test.threshold,
                f"{test.description}: {detail}",
            )
        )
    return checks


def _slice_checks(
    challenger: Evaluation, champion: Evaluation, settings: GateSettings
) -> list[GateCheck]:
    checks = []
    for key, values in champion.slices.items():
        for value, before in values.items():
            after = challenger.slices.get(key, {}).get(value)
            if after is None or before.frames < settings.min_slice_frames:
                continue
            limit = before.accuracy - settings.slice_tolerance
            drop = before.accuracy - after.accuracy
            checks.append(
                GateCheck(
                    f"slice:{key}={value}",
                    after.accuracy >= limit,
                    after.accuracy,
                    before.accuracy,
                    limit,
                    f"{key}={value} ({after.frames} frames): accuracy {after.accuracy:.1%} vs "
                    f"{before.accuracy:.1%}" + (f", down {drop:.1%}" if drop > 0 else ""),
                )
            )
    return checks


def gate(challenger: Evaluation, champion: Evaluation | None, settings: GateSettings) -> GateResult:
    """Decide whether ``challenger`` may replace ``champion`` (None: there is no champion).

    Raises:
        UsageError: The two were scored on different dataset versions, splits or class lists.
    """
    metric = settings.metric
    ours = getattr(challenger.overall, metric)
    checks: list[GateCheck] = []
    if champion is None:
        checks.append(
            GateCheck(
                f"absolute:{metric}",
                ours >= settings.min_metric,
                ours,
                None,
                settings.min_metric,
                f"{metric} {ours:.1%} against the floor {settings.min_metric:.1%} (no champion)",
            )
        )
    else:
        same = (challenger.dataset, challenger.split, challenger.classes)
        if same != (champion.dataset, champion.split, champion.classes):
            raise UsageError(
                f"cannot gate {challenger.model} ({challenger.dataset} {challenger.split}) "
                f"against {champion.model} ({champion.dataset} {champion.split}): "
                "score both on the same dataset version and split"
            )
        theirs = getattr(champion.overall, metric)
        limit = theirs - settings.tolerance
        checks.append(
            GateCheck(
                "overall",
                ours >= limit,
                ours,
                theirs,
                limit,
                f"{metric} {ours:.1%} vs the champion's {theirs:.1%} "
                f"(tolerance {settings.tolerance:.1%})",
            )
        )
        checks.extend(_slice_checks(challenger, champion, settings))
    checks.extend(_behaviour_checks(challenger))
    return GateResult(
        challenger=challenger.model,
        champion=None if champion is None else champion.model,
        dataset=challenger.dataset,
        split=challenger.split,
        metric=metric,
        checks=tuple(checks),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
