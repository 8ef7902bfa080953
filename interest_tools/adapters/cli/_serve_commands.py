"""``interest-tools serve-mcp``: the agent tools over MCP (stdio, or streamable HTTP with a bearer token)."""

from pathlib import Path
from typing import Annotated

import typer

from interest_tools.adapters.cli import _common  # engine_from is looked up at call time (tests replace it)
from interest_tools.adapters.cli._common import (
    StoreOpt,
    UrlOpt,
    app,
    handle_errors,
    settings_from,
)
from interest_tools.errors import ConfigError


@app.command(name="serve-mcp")
@handle_errors
def serve_mcp(
    transport: Annotated[str, typer.Option(help="stdio (for a desktop client) or http (streamable HTTP).")] = "stdio",
    user: Annotated[
        str | None, typer.Option(help="Bind every tool to this user (no user_id argument); default: operator tools.")
    ] = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    host: Annotated[str, typer.Option(help="HTTP host to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="HTTP: file holding the bearer token every request must send (not readable by all users; "
            "env INTEREST_TOOLS_MCP_TOKEN). Required for HTTP, loopback included.",
        ),
    ] = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin", help="HTTP: a browser Origin to accept besides loopback and same-origin (repeatable)."
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="HTTP: a Host header name to accept besides localhost and the bound address (repeatable).",
        ),
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="HTTP without --user: also expose interest_ingest_events, interest_feedback, interest_forget_user.",
        ),
    ] = False,
) -> None:
    """Serve the interest tools over MCP (stdio, or streamable HTTP at http://HOST:PORT/mcp).

    HTTP always needs a bearer token (--token-file or INTEREST_TOOLS_MCP_TOKEN), on loopback too.

    Without one it refuses to start (exit 2). Clients send Authorization: Bearer TOKEN (else 401).

    Host and Origin are checked against DNS rebinding (421 / 403); --allow-host and --allow-origin widen the lists.

    Without --user the write tools (ingest, feedback, forget) are left out unless --allow-writes.
    """
    from interest_tools.adapters._mcp import serve
    from interest_tools.adapters._mcp_access import HttpAccess, resolve_token

    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport must be stdio or http, not '{transport}'")
    access = None
    if transport == "http":
        secret = settings_from(store, chroma_url).mcp_token
        token = resolve_token(token_file, None if secret is None else secret.get_secret_value())
        access = HttpAccess.resolve(host, token, allow_host, allow_origin)
    elif token_file is not None or allow_origin or allow_host or allow_writes:
        raise ConfigError(
            "--token-file, --allow-origin, --allow-host and --allow-writes apply to --transport http only"
        )
    serve(
        _common.engine_from(store, chroma_url),
        transport=transport,  # type: ignore[arg-type]
        user_id=user,
        host=host,
        port=port,
        access=access,
        allow_writes=allow_writes,
    )
