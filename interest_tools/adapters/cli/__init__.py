"""The ``interest-tools`` command line: flags in, stage calls, errors out as exit codes.

Command modules register on the one Typer ``app`` of :mod:`._common` and import only from it, never from this
package; importing this package registers every command.
"""

from __future__ import annotations

from interest_tools.adapters.cli import (  # noqa: F401  (each registers its commands on `app`)
    _answer_commands,
    _data_commands,
    _preference_commands,
    _serve_commands,
    _store_commands,
)
from interest_tools.adapters.cli._common import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
