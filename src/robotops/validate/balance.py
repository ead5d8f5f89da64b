"""Balance and bias: class shares overall, per site, split and tag, and slices too thin to test."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from robotops.validate.context import Context, result, share
from robotops.validate.report import CheckResult
from robotops.validate.rules import Rule


def distribution(ctx: Context) -> dict[str, Any]:
    """Labelled frames per class: ``overall``, and per ``site``, ``split`` and ``tag:KEY`` slice."""
    labels = ctx.column("label")
    overall = Counter(label for label in labels if label is not None)
    out: dict[str, Any] = {"overall": {c: overall.get(c, 0) for c in ctx.classes}}
    out["overall"].update({c: n for c, n in overall.items() if c not in ctx.classes})
    for kind, values in _slices(ctx).items():
        table: dict[str, dict[str, int]] = defaultdict(lambda: {c: 0 for c in ctx.classes})
        for value, label in zip(values, labels, strict=True):
            if label is not None and value is not None:
                table[value][label] = table[value].get(label, 0) + 1
        out[kind] = {value: dict(counts) for value, counts in sorted(table.items())}
    return out


def _slices(ctx: Context, rows: list[int] | None = None) -> dict[str, list[str | None]]:
    """Slice value of each frame (or of ``rows``) per slice kind: site, split, tag:KEY."""
    keep = range(ctx.frames) if rows is None else rows
    sites, splits = ctx.column("site"), ctx.column("split")
    kinds: dict[str, list[str | None]] = {
        "site": [sites[i] for i in keep],
        "split": [splits[i] for i in keep],
    }
    keys = sorted({k for tags in ctx.tags for k in tags} - {"site", "split"})  # no repeats
    for key in keys:
        kinds[f"tag:{key}"] = [ctx.tags[i].get(key) for i in keep]
    return kinds


def classes(ctx: Context, rule: Rule) -> CheckResult:
    """Every class holds at least ``limit`` of the labelled frames."""
    labels = [label for label in ctx.column("label") if label is not None]
    counts = Counter(labels)
    shares = {c: share(counts.get(c, 0), len(labels)) for c in ctx.classes}
    rarest = min(shares, key=shares.__getitem__) if shares else None
    least = shares[rarest] if rarest else 0.0
    limit = rule.limit or 0.0
    return result(
        rule,
        passed=bool(labels) and least >= limit,
        value=least,
        threshold=limit,
        summary=f"rarest class {rarest} holds {least:.1%} of {len(labels)} labelled frames "
        f"(at least {limit:.0%} wanted)",
        details=[f"{c}: {counts.get(c, 0)} ({s:.1%})" for c, s in shares.items()],
    )


def slices(ctx: Context, rule: Rule) -> CheckResult:
    """Slices of the evaluation split with fewer than ``limit`` frames of a class.

    The evaluation split is ``test`` when the dataset has one, else every labelled frame. Each
    site must show every class; a tag slice (lighting, ...) must show ``limit`` frames of each
    class it has at all, since some tags exist for one class only (a glass variant).
    """
    labels, splits = ctx.column("label"), ctx.column("split")
    evaluated = "test" if "test" in splits else None
    rows = [
        i for i, label in enumerate(labels) if label is not None and splits[i] == evaluated
    ] or ([] if evaluated else [i for i, label in enumerate(labels) if label is not None])
    limit = int(rule.limit or 0)
    thin: list[str] = []
    pairs = 0
    for kind, values in _slices(ctx, rows).items():
        if kind == "split":
            continue
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for value, i in zip(values, rows, strict=True):
            if value is not None:
                counts[value][labels[i]] += 1
        for value, per_class in sorted(counts.items()):
            wanted = ctx.classes if kind == "site" else [c for c in ctx.classes if per_class[c]]
            for cls in wanted:
                pairs += 1
                if per_class[cls] < limit:
                    thin.append(f"{kind}={value}: {per_class[cls]} {cls}")
    where = f"the {evaluated} split" if evaluated else "all labelled frames"
    value = share(len(thin), pairs)
    return result(
        rule,
        passed=value <= rule.max_fraction,
        value=value,
        threshold=rule.max_fraction,
        summary=f"{len(thin)} of {pairs} slice-class pairs in {where} have under {limit} frames",
        details=thin[:20],
    )


CHECKS = {"balance.classes": classes, "balance.slices": slices}
