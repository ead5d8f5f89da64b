"""The one error root of robotops, and the exit code and HTTP status each error maps to.

Every expected failure raises a subclass of :class:`RobotopsError`. The command line prints its
message as one line and exits with ``exit_code``; the server answers with ``http_status``. Nothing
else in the code base decides exit codes or statuses.

Hierarchy::

    RobotopsError            1  500  anything expected that has no better class
    ├── UsageError           2  400  bad arguments or configuration values
    ├── DataError            3  422  an input file is unreadable, corrupt or malformed
    ├── NotFoundError        4  404  a named thing (dataset, version, model, site) does not exist
    ├── ConflictError        5  409  the target exists already or changed underneath us
    ├── OutputError          6  500  an output cannot be written (permissions, disk)
    ├── CheckFailed         10  412  a check ran and failed (validation, gate)
    └── Interrupted        130  503  stopped by the user (Ctrl-C); the message says how to resume
"""

from __future__ import annotations


class RobotopsError(Exception):
    """Root of every expected robotops error."""

    exit_code: int = 1
    http_status: int = 500


class UsageError(RobotopsError):
    """Bad arguments or configuration values."""

    exit_code = 2
    http_status = 400


class DataError(RobotopsError):
    """An input file is unreadable, corrupt or malformed."""

    exit_code = 3
    http_status = 422


class NotFoundError(RobotopsError):
    """A named thing does not exist."""

    exit_code = 4
    http_status = 404


class ConflictError(RobotopsError):
    """The target exists already or changed underneath us."""

    exit_code = 5
    http_status = 409


class OutputError(RobotopsError):
    """An output cannot be written."""

    exit_code = 6
    http_status = 500


class CheckFailed(RobotopsError):
    """A check ran and failed: validation errors, a refused gate."""

    exit_code = 10
    http_status = 412


class Interrupted(RobotopsError):
    """Stopped by the user; the message says how to go on."""

    exit_code = 130
    http_status = 503


def one_line(err: BaseException) -> str:
    """An exception's message on one line (its class name if it has none)."""
    text = " ".join(str(err).split())
    return text or err.__class__.__name__
