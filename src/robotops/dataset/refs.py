"""Dataset references: ``NAME``, ``NAME@VERSION`` or ``NAME@TAG``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from robotops.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class DatasetRef:
    """A parsed reference: ``version`` or ``tag`` or neither (latest)."""

    name: str
    version: int | None = None
    tag: str | None = None

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        """Parse ``doors``, ``doors@7`` or ``doors@release-2026-11``.

        Raises:
            UsageError: The text is not a valid reference.
        """
        name, _, at = text.partition("@")
        if not _NAME.match(name) or ("@" in text and not at):
            raise UsageError(
                f"bad dataset reference {text!r}: expected NAME, NAME@VERSION or NAME@TAG"
            )
        if not at:
            return cls(name)
        if at.isdigit():
            return cls(name, version=int(at))
        if not _NAME.match(at):
            raise UsageError(f"bad tag in {text!r}: letters, digits, '.', '_' and '-' only")
        return cls(name, tag=at)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.tag}" if self.tag else self.name


def check_name(name: str, what: str = "dataset name") -> str:
    """Return ``name`` if it is a valid dataset or tag name.

    Raises:
        UsageError: It is not.
    """
    if not _NAME.match(name) or name.isdigit():
        raise UsageError(f"bad {what} {name!r}: letters, digits, '.', '_' and '-', not all digits")
    return name
