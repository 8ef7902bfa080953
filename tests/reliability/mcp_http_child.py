"""Child of ``test_mcp_http_auth``: ``interest-tools serve-mcp ARGS`` as a real process over a reliability store.

The only change from the console script is the engine: it uses the suite's deterministic fake embeddings (the
store was built with them), so the server starts in seconds and offline. Run as
``python mcp_http_child.py serve-mcp --transport http --store S ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from interest_tools.adapters.cli import _common as cli_common
from interest_tools.adapters.cli import app
from interest_tools.engine import Engine
from tests.harness.stores import persistent_engine


def _engine(store: Path | None, chroma_url: str | None) -> Engine:
    assert store is not None and chroma_url is None, "the test passes --store"
    return persistent_engine(store)


if __name__ == "__main__":
    cli_common.engine_from = _engine  # the command looks the name up in its module at call time
    app(sys.argv[1:], prog_name="interest-tools")
