"""robotops: MLOps for robot perception."""

from robotops.errors import (
    CheckFailed,
    ConflictError,
    DataError,
    NotFoundError,
    OutputError,
    RobotopsError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckFailed",
    "ConflictError",
    "DataError",
    "NotFoundError",
    "OutputError",
    "RobotopsError",
    "UsageError",
    "__version__",
]
