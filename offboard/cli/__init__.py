"""The ``offboard`` command line: the only package that imports click.

Heavy libraries (Arrow, the SQLite driver, qpdf, rich) are imported inside the commands so that
``offboard --help`` answers at once. :mod:`offboard.cli.common` holds the group and the option
decorators the commands share; each other module adds a family of commands to the group.
"""

from __future__ import annotations

# the modules register their commands with the group
from offboard.cli import (  # noqa: F401
    archive,
    backup,
    export,
    fec,
    gate,
    maintain,
    mapping,
    restore,
    retention,
)
from offboard.cli.common import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="offboard")


if __name__ == "__main__":
    main()
