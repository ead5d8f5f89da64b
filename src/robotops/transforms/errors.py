"""Errors of the transforms stage.

Hierarchy (under the package root, :mod:`robotops.errors`)::

    DataError
    └── TransformError   an array has the wrong shape, dtype or size for its modality
    UsageError
    └── SpecError        a preprocessing spec or augmentation config is invalid or unknown
"""

from __future__ import annotations

from robotops.errors import DataError, UsageError


class TransformError(DataError):
    """An array handed to a transform has the wrong shape, dtype or size for its modality."""


class SpecError(UsageError):
    """A preprocessing spec or augmentation config is invalid, or of a version not understood."""
