"""``python -m robotops``: the same as the ``robotops`` command."""

from robotops.cli import main

main()
