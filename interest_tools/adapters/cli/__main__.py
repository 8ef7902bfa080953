"""``python -m interest_tools.adapters.cli`` runs the CLI."""

from __future__ import annotations

from interest_tools.adapters.cli import main

main()
