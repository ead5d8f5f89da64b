"""Connecting to Ray, the optional scale-out engine, one way for ingest, training and sweeps."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from robotops.errors import UsageError, one_line


def connect(ray: Any, address: str | None) -> bool:
    """Connect to Ray at ``address`` (a local Ray without one) unless connected already.

    Returns:
        Whether this call started the connection: the caller then shuts it down when done.

    Raises:
        UsageError: No Ray cluster answers at ``address``.
    """
    if ray.is_initialized():
        return False
    with warnings.catch_warnings():
        # Ray starts its processes with fork+exec: they never use the parent's Lance state, so
        # Lance's fork-safety warning does not apply to them.
        warnings.filterwarnings("ignore", "lance is not fork-safe")
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        except ConnectionError as err:
            where = f"at {address}" if address else "locally"
            raise UsageError(f"cannot reach a Ray cluster {where}: {one_line(err)}") from err
    return True
