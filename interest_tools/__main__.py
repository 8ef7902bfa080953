"""``python -m interest_tools`` runs the CLI."""

from __future__ import annotations

from interest_tools.cli import main

main()
