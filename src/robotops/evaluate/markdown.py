"""Evaluations and gate decisions as Markdown, for a pull request or a CI summary.

Both read only the result records, so a stored ``evaluation.json`` or ``gate.json`` renders the
same text as the run that wrote it. Text that came from data (class names, tag values, details)
is escaped for GitHub-flavoured Markdown: it can neither break a table nor inject HTML or links.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from robotops.evaluate.metrics import Metrics
from robotops.evaluate.results import ALL_MODALITIES, Evaluation, GateCheck, GateResult


def evaluation_markdown(ev: Evaluation) -> str:
    """An evaluation as Markdown: headline, per class, confusion, slices, modalities, tests.

    Slices are listed worst first (lowest accuracy, then most frames), so a regression on one
    site or lighting condition is at the top of its table.
    """
    m = ev.overall
    lines = [
        f"## Evaluation of {_code(ev.model)} on {_code(ev.dataset)} ({_text(ev.split)})",
        "",
        f"**accuracy {_percent(m.accuracy)}** · macro-F1 {m.macro_f1:.3f} · ECE {m.ece:.3f} · "
        f"{m.frames} frames · behavioural tests: {_behaviour_summary(ev)}",
        "",
        f"architecture {_text(ev.architecture)} · run {_code(ev.run_id or 'unknown')} · "
        f"{_text(ev.created_at)}",
        "",
        "### Per class",
        "",
        *_table(
            ["class", "precision", "recall", "F1", "support"],
            [
                [_text(name), f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", c.support]
                for name, c in m.per_class.items()
            ],
            right=range(1, 5),
        ),
        "",
        "### Confusion matrix",
        "",
        "Rows are the true class, columns the predicted class.",
        "",
        *_table(
            ["true \\ predicted", *map(_text, ev.classes)],
            [
                [f"**{_text(name)}**", *row]
                for name, row in zip(ev.classes, m.confusion, strict=True)
            ],
            right=range(1, 1 + len(ev.classes)),
        ),
        "",
        "### Slices, worst first",
        "",
        *_metrics_table("slice", _worst_first(ev), m, "Δ accuracy vs overall"),
        "",
        "### Modality subsets",
        "",
        *_metrics_table(
            "sensors",
            [(_code(name), sub) for name, sub in ev.modalities.items()],
            ev.modalities.get(ALL_MODALITIES, m),
            "Δ accuracy vs all sensors",
        ),
        "",
        "### Behavioural tests",
        "",
        *_behaviour_table(ev),
    ]
    return "\n".join(lines) + "\n"


def gate_markdown(gate: GateResult) -> str:
    """A gate decision as Markdown: the verdict first, then the failed checks, then the rest.

    Each failed check says what fell short and by how much against the champion, e.g. which
    slice regressed.
    """
    if gate.champion is None:
        against = "against absolute thresholds (no champion yet)"
        verdict = "may be promoted" if gate.passed else "must not be promoted"
    else:
        against = f"against the champion {_code(gate.champion)}"
        replace = "may replace" if gate.passed else "must not replace"
        verdict = f"{replace} {_code(gate.champion)}"
    failures = gate.failures
    lines = [
        f"## Gate {'PASSED' if gate.passed else 'REFUSED'}: {_code(gate.challenger)} {verdict}",
        "",
        f"Scored on {_code(gate.dataset)} ({_text(gate.split)}) by {_text(gate.metric)}, "
        f"{against}: {len(failures)} of {len(gate.checks)} checks failed.",
    ]
    if failures:
        lines += ["", "### Failed checks", ""]
        lines += [f"- {_failure(check, gate.champion is not None)}" for check in failures]
    lines += [
        "",
        "### All checks",
        "",
        *_table(
            ["check", "result", "challenger", "champion", "change", "limit", "detail"],
            [_check_row(c) for c in [*failures, *(c for c in gate.checks if c.passed)]],
            right=range(2, 6),
        ),
    ]
    if gate.created_at:
        lines += ["", f"Decided {_text(gate.created_at)}."]
    return "\n".join(lines) + "\n"


def _behaviour_summary(ev: Evaluation) -> str:
    if not ev.behaviour:
        return "none ran"
    failed = sum(b.passed is False for b in ev.behaviour)
    passed = sum(b.passed is True for b in ev.behaviour)
    skipped = len(ev.behaviour) - failed - passed
    parts = [f"{failed} FAILED"] if failed else []
    parts.append(f"{passed} passed")
    if skipped:
        parts.append(f"{skipped} not run")
    return ", ".join(parts)


def _worst_first(ev: Evaluation) -> list[tuple[str, Metrics]]:
    """Every slice as ``(name, metrics)``, lowest accuracy first, larger slices first on ties."""
    named = [
        (f"{key}={value}", metrics)
        for key, values in ev.slices.items()
        for value, metrics in values.items()
    ]
    named.sort(key=lambda item: (item[1].accuracy, -item[1].frames, item[0]))
    return [(_code(name), metrics) for name, metrics in named]


def _metrics_table(
    what: str, rows: Sequence[tuple[str, Metrics]], baseline: Metrics, delta: str
) -> list[str]:
    if not rows:
        return ["No data."]
    return _table(
        [what, "frames", "accuracy", delta, "macro-F1", "ECE"],
        [
            [
                name,
                m.frames,
                _percent(m.accuracy),
                _points(m.accuracy - baseline.accuracy),
                f"{m.macro_f1:.3f}",
                f"{m.ece:.3f}",
            ]
            for name, m in rows
        ],
        right=range(1, 6),
    )


def _behaviour_table(ev: Evaluation) -> list[str]:
    if not ev.behaviour:
        return ["No behavioural tests ran."]
    status = {True: "pass", False: "**FAIL**", None: "not run"}
    return _table(
        ["test", "result", "measured", "threshold", "detail"],
        [
            [
                _code(b.id),
                status[b.passed],
                _number(b.measured),
                _number(b.threshold),
                _text(b.detail or b.description),
            ]
            for b in ev.behaviour
        ],
        right=(2, 3),
    )


def _failure(check: GateCheck, has_champion: bool) -> str:
    """One failed check in words: its figure, the champion's, and how far below the limit."""
    text = f"**{_code(check.id)}** {_number(check.challenger)}"
    if check.reference is not None and has_champion:
        text += f" vs the champion's {_number(check.reference)}"
        if check.challenger is not None:
            text += f" ({_signed(check.challenger - check.reference)})"
    if check.limit is not None:
        text += f", below the limit {_number(check.limit)}"
        if check.challenger is not None:
            text += f" by {_number(check.limit - check.challenger)}"
    return f"{text}: {_text(check.detail)}" if check.detail else text


def _check_row(check: GateCheck) -> list[object]:
    change = (
        _signed(check.challenger - check.reference)
        if check.challenger is not None and check.reference is not None
        else "-"
    )
    return [
        _code(check.id),
        "pass" if check.passed else "**FAIL**",
        _number(check.challenger),
        _number(check.reference),
        change,
        _number(check.limit),
        _text(check.detail),
    ]


def _table(
    header: Sequence[str], rows: Iterable[Sequence[object]], right: Iterable[int]
) -> list[str]:
    """A Markdown table whose columns ``right`` (numbers) align right."""
    align = ["---"] * len(header)
    for i in right:
        align[i] = "---:"
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def _text(value: object) -> str:
    """Plain text for a Markdown table cell: one line, no markup, no column breaks."""
    text = " ".join(str(value).split())
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, escaped)
    for char in "\\`*[|":
        text = text.replace(char, "\\" + char)
    return text


def _code(value: object) -> str:
    """Inline code for a table cell; pipes stay escaped (GitHub splits cells on them first)."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _points(value: float) -> str:
    """A difference of two fractions in percentage points, signed."""
    return f"{value * 100:+.1f} pt"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _signed(value: float) -> str:
    return f"{value:+.3f}" if abs(value) < 10 else f"{value:+.1f}"
