"""Who may call the MCP server over HTTP: the bearer token, the Host and Origin allow-lists, and the write tools.

The policy of ``interest-tools serve-mcp --transport http`` (issue 12):

- Every request needs ``Authorization: Bearer TOKEN``, on every bind address, loopback included (any local
  process or user could otherwise read, and with writes delete, every user's data). The token comes from
  ``--token-file PATH`` or ``INTEREST_TOOLS_MCP_TOKEN``; without one the server refuses to start (exit 2). FastMCP's
  bearer authentication checks it (:class:`BearerTokenVerifier`, a FastMCP ``TokenVerifier`` that compares in
  constant time); a missing or wrong token gets 401.
- Against DNS rebinding, FastMCP's Host/Origin guard runs in strict mode before the token is looked at. ``Host``
  must be ``localhost``, ``127.0.0.1``, ``::1``, the address the request arrived on, the bound host, or an
  ``--allow-host`` (else 421). A request that carries ``Origin`` must come from an ``--allow-origin``, from the
  server's own origin, or from a loopback origin to a loopback address (else 403).
- Without ``--user`` (operator tools over every user), the write tools (:data:`WRITE_TOOLS`) are listed and run
  only with ``--allow-writes``. Bound to one user they stay: ingest and feedback are that person's own statements,
  and forget deletes only them (its ``confirm`` is a strict JSON boolean).
"""

from __future__ import annotations

import hmac
import os
import re
import stat
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from fastmcp.server.auth import AccessToken, TokenVerifier

from interest_tools.adapters._operations import OPERATIONS
from interest_tools.errors import ConfigError

#: Shortest token accepted: 16 characters; ``secrets.token_urlsafe(32)`` gives 43.
MIN_TOKEN_CHARS = 16
#: The operations that change what is stored (exposed over unbound HTTP only with ``--allow-writes``).
WRITE_TOOLS: tuple[str, ...] = tuple(op.name for op in OPERATIONS if op.writes)
_MAKE_TOKEN = (
    "create one with `python -c 'import secrets; print(secrets.token_urlsafe(32))' > mcp.token && chmod 600 "
    "mcp.token` and pass `--token-file mcp.token` (or set INTEREST_TOOLS_MCP_TOKEN); clients send it as "
    "`Authorization: Bearer <token>`"
)
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what a header value can carry


class BearerTokenVerifier(TokenVerifier):
    """FastMCP bearer authentication against one shared token, compared in constant time."""

    def __init__(self, token: str) -> None:
        """Accept exactly ``token`` (already checked by :func:`check_token`)."""
        super().__init__()
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access of a caller that sent the right token; ``None`` (401) for any other."""
        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token=token, client_id="interest-tools-mcp", scopes=[])
        return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or host name) is only reachable from this machine."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_token(token: str, source: str) -> str:
    """The token without surrounding whitespace.

    Raises:
        ConfigError: It is empty, shorter than :data:`MIN_TOKEN_CHARS`, or not printable ASCII without spaces.
    """
    token = token.strip()
    if not token:
        raise ConfigError(f"{source} is empty; {_MAKE_TOKEN}")
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{source} holds a token of {len(token)} characters, fewer than {MIN_TOKEN_CHARS}; {_MAKE_TOKEN}"
        )
    if not _TOKEN_CHARS.fullmatch(token):
        raise ConfigError(f"{source}: the token must be printable ASCII without spaces; {_MAKE_TOKEN}")
    return token


def read_token_file(path: Path) -> str:
    """The token in ``path`` (its whole content, stripped).

    Raises:
        ConfigError: The file is missing, not a file, readable or writable by every user, or holds no usable token.
    """
    if not path.is_file():
        raise ConfigError(f"--token-file {path}: {'not a file' if path.exists() else 'not found'}; {_MAKE_TOKEN}")
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(
            f"--token-file {path} can be read or written by every user on this machine (mode "
            f"{stat.S_IMODE(mode):o}); run `chmod 600 {path}` and start again"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--token-file {path} cannot be read as text ({exc}); {_MAKE_TOKEN}") from exc
    return check_token(text, f"--token-file {path}")


def resolve_token(token_file: Path | None, env_token: str | None) -> str | None:
    """The token of ``--token-file`` if given, else of ``INTEREST_TOOLS_MCP_TOKEN``, else ``None``."""
    if token_file is not None:
        return read_token_file(token_file)
    if env_token is not None:
        return check_token(env_token, "INTEREST_TOOLS_MCP_TOKEN")
    return None


@dataclass(frozen=True)
class HttpAccess:
    """What an HTTP server demands of its callers; build it with :meth:`resolve` (which checks every value)."""

    token: str
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def resolve(
        cls, host: str, token: str | None, allow_hosts: list[str] | None = None, allow_origins: list[str] | None = None
    ) -> HttpAccess:
        """Check the token and allow-lists for a server bound to ``host``.

        Raises:
            ConfigError: No token (the message says whether the bind is beyond loopback and how to make one), or
                an allow-list entry that is not a host name (``--allow-host``) or an origin (``--allow-origin``).
        """
        if token is None:
            if is_loopback(host):
                why = f"even on loopback ({host}) any local process or user could read every user's data"
            else:
                why = (
                    f"--host {host} binds beyond loopback, where anyone reaching the port could read every user's data"
                )
            raise ConfigError(f"serve-mcp --transport http needs a bearer token: {why}; {_MAKE_TOKEN}")
        hosts = tuple(_check_host(h) for h in allow_hosts or ())
        bound = host.strip().strip("[]")
        if bound and bound not in ("0.0.0.0", "::"):
            hosts = (bound, *hosts)
        return cls(
            token=token, allowed_hosts=hosts, allowed_origins=tuple(_check_origin(o) for o in allow_origins or ())
        )

    def verifier(self) -> BearerTokenVerifier:
        """FastMCP's ``auth=`` for this server."""
        return BearerTokenVerifier(self.token)

    def run_options(self) -> dict[str, Any]:
        """Keyword arguments of FastMCP's ``run_http_async`` / ``http_app``: the strict Host/Origin guard."""
        return {
            "host_origin_protection": True,
            "allowed_hosts": list(self.allowed_hosts),
            "allowed_origins": list(self.allowed_origins) or None,
        }


def _check_host(value: str) -> str:
    host = value.strip()
    if not host or "/" in host or any(c.isspace() for c in host):
        raise ConfigError(f"--allow-host '{value}' is not a host name; give e.g. mcp.example.com (no scheme or path)")
    return host


def _check_origin(value: str) -> str:
    origin = value.strip().rstrip("/")
    if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
        raise ConfigError(
            f"--allow-origin '{value}' is not an origin; give scheme and host (and port), e.g. https://app.example.com"
        )
    return origin
