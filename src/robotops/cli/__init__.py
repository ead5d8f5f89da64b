"""The ``robotops`` command line: parsing and printing only; the work is in the subpackages.

One module per stage of the loop registers its commands on the one Typer app.

Expected errors (:class:`robotops.errors.RobotopsError`) are printed as one line on stderr and
exit with the error's own exit code; this module is the one place where that happens.
"""

import sys

from robotops.cli import (  # noqa: F401  (registers the commands)
    data,
    demo,
    evaluate,
    export,
    models,
    monitor,
    serve,
    train,
    workspace,
)
from robotops.cli._app import app, err_console
from robotops.errors import RobotopsError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``robotops`` console script."""
    try:
        app()
    except RobotopsError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
