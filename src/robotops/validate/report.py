"""A validation report: what each check found, and the class distribution behind the plots.

The report is plain data: it renders as JSON (stored with the dataset version and printed by
``--json``), as Markdown for a pull-request comment, and, with the per-frame statistics, as HTML.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from robotops.validate.rules import Severity

EXAMPLES = 10  # example frame ids kept per check


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        id: The check's id.
        title: What it looks for.
        severity: Its severity (never ``off``: checks that are off are not in a report).
        passed: Whether the measured value is within the limit.
        value: The measured value: a share of frames, or a count (see ``summary``).
        threshold: The value above which the check fails.
        summary: One line saying what was found.
        details: Further lines: counts per site or split, the worst cases.
        frames: Example frame ids of the problem, at most :data:`EXAMPLES`.
    """

    id: str
    title: str
    severity: Severity
    passed: bool
    value: float
    threshold: float
    summary: str
    details: tuple[str, ...] = ()
    frames: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether this result fails validation (an error-severity check that did not pass)."""
        return not self.passed and self.severity is Severity.ERROR

    @property
    def status(self) -> str:
        """``pass``, ``warn`` or ``FAIL``."""
        if self.passed:
            return "pass"
        return "FAIL" if self.severity is Severity.ERROR else "warn"


@dataclass(frozen=True)
class ValidationReport:
    """Everything ``robotops validate`` found in one dataset version.

    Attributes:
        dataset: The version validated, as ``NAME@VERSION``.
        frames: Frames validated.
        created_at: When the report was made (ISO 8601, UTC).
        settings_digest: Digest of the rules applied; a stored report is reused only for the same.
        classes: The dataset's class list.
        checks: One result per check that ran, in rule order.
        distribution: Labelled frames per class: ``overall``, and per slice kind (``site``,
            ``split``, ``tag:lighting``, ...) per slice value.
    """

    dataset: str
    frames: int
    created_at: str
    settings_digest: str
    classes: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    distribution: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether any error-severity check failed."""
        return any(check.failed for check in self.checks)

    @property
    def counts(self) -> dict[str, int]:
        """Checks per status: pass, warn, FAIL."""
        out = {"pass": 0, "warn": 0, "FAIL": 0}
        for check in self.checks:
            out[check.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = asdict(self)
        data["failed"] = self.failed
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ValidationReport:
        """A report from :meth:`to_json`'s data."""
        checks = tuple(
            CheckResult(
                **{
                    **c,
                    "severity": Severity(c["severity"]),
                    "details": tuple(c["details"]),
                    "frames": tuple(c["frames"]),
                }
            )
            for c in data["checks"]
        )
        return cls(
            dataset=data["dataset"],
            frames=data["frames"],
            created_at=data["created_at"],
            settings_digest=data["settings_digest"],
            classes=tuple(data["classes"]),
            checks=checks,
            distribution=data.get("distribution", {}),
        )

    def dumps(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"

    def to_markdown(self) -> str:
        """The report as Markdown, for a pull-request comment."""
        counts = self.counts
        verdict = "❌ failed" if self.failed else "✅ passed"
        lines = [
            f"### Validation of `{self.dataset}`: {verdict}",
            "",
            f"{self.frames} frames; {counts['pass']} checks passed, {counts['warn']} warnings, "
            f"{counts['FAIL']} failed.",
            "",
            "| check | severity | status | found |",
            "| --- | --- | --- | --- |",
        ]
        for check in self.checks:
            found = check.summary.replace("|", "\\|")
            lines.append(f"| `{check.id}` | {check.severity} | {check.status} | {found} |")
        overall = self.distribution.get("overall", {})
        if overall:
            lines += ["", "| class | frames |", "| --- | --- |"]
            lines += [f"| {cls} | {n} |" for cls, n in overall.items()]
        return "\n".join(lines) + "\n"
