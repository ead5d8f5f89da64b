"""What every check reads: one row per frame with its label, split, tags and sensor statistics."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from robotops.validate.report import EXAMPLES, CheckResult
from robotops.validate.rules import Rule


@dataclass(frozen=True)
class Context:
    """A dataset version's frames as columns, in stored order (``row`` is the stored position).

    ``table`` holds the frame index (frame_id, recording_id, site, stamp_ns, tags), the label
    (label, review_status), the split and the scan's statistics (see ``scan.STATS_SCHEMA``).
    """

    table: pa.Table
    classes: tuple[str, ...]

    def column(self, name: str) -> list[Any]:
        """A column as a Python list."""
        return self.table.column(name).to_pylist()

    def array(self, name: str, dtype: Any = float) -> np.ndarray:
        """A numeric column as a NumPy array; nulls become NaN (float) or 0."""
        values = self.table.column(name).to_pylist()
        fill = np.nan if np.dtype(dtype).kind == "f" else 0
        return np.array([fill if v is None else v for v in values], dtype=dtype)

    @cached_property
    def tags(self) -> list[dict[str, str]]:
        """Each frame's tags."""
        return [json.loads(t) if t else {} for t in self.column("tags")]

    @cached_property
    def has_splits(self) -> bool:
        """Whether any frame has a split."""
        return self.table.column("split").null_count < self.table.num_rows

    @property
    def frames(self) -> int:
        """Number of frames."""
        return self.table.num_rows


def share(part: int, whole: int) -> float:
    """``part / whole``, 0 for an empty whole."""
    return part / whole if whole else 0.0


def result(
    rule: Rule,
    *,
    passed: bool,
    value: float,
    threshold: float,
    summary: str,
    details: list[str] | tuple[str, ...] = (),
    frames: list[str] | tuple[str, ...] = (),
) -> CheckResult:
    """A check's result under its rule."""
    return CheckResult(
        id=rule.id,
        title=rule.title,
        severity=rule.severity,
        passed=passed,
        value=round(float(value), 6),
        threshold=float(threshold),
        summary=summary,
        details=tuple(details),
        frames=tuple(frames[:EXAMPLES]),
    )


def share_result(
    rule: Rule, ctx: Context, flagged: np.ndarray, whole: int, what: str, details: list[str] = ()
) -> CheckResult:
    """A result for the common case: the share of ``whole`` frames flagged vs ``max_fraction``."""
    count = int(flagged.sum())
    value = share(count, whole)
    ids = [f for f, bad in zip(ctx.column("frame_id"), flagged, strict=True) if bad]
    return result(
        rule,
        passed=value <= rule.max_fraction,
        value=value,
        threshold=rule.max_fraction,
        summary=f"{count} of {whole} {what} ({value:.1%}, limit {rule.max_fraction:.1%})",
        details=details,
        frames=ids,
    )


Check = Callable[[Context, Rule], CheckResult]
