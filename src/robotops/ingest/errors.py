"""Errors of the ingest stage."""

from __future__ import annotations

from robotops.errors import DataError


class DecodeError(DataError):
    """A message or file payload cannot be decoded.

    The message is one line naming the problem (``"image data is 30 bytes, expected ..."``); the
    caller, which knows the file, topic and stamp, adds them.
    """
