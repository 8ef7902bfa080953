"""Issue 12, section 4: MCP over HTTP needs a bearer token, checks Host and Origin, and keeps write tools opt-in.

Real ``interest-tools serve-mcp --transport http`` processes (see ``mcp_http_child.py``) serve copies of the tiny
reliability store on free loopback ports; raw HTTP requests check the status codes and FastMCP clients the tools.
Also here: unknown-user messages name no other user in any adapter, and ``interest_forget_user`` takes only a
JSON ``true`` (every value pydantic would coerce to ``True`` is refused, and nothing is deleted).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from typer.testing import CliRunner

from interest_tools.adapters import OPERATIONS, InterestToolkit
from interest_tools.adapters._mcp import create_http_server, create_server
from interest_tools.adapters._mcp_access import WRITE_TOOLS, HttpAccess
from interest_tools.adapters.cli import app
from interest_tools.engine import Engine
from interest_tools.errors import UnknownUserError
from tests.harness.stores import RELIABILITY, REPO, clone_store, persistent_engine

TOKEN = "test-token-0123456789-abcdefghij"
ENV_TOKEN = "env-token-9876543210-zyxwvutsrq"
ALL_TOOLS = [op.name for op in OPERATIONS]
READ_TOOLS = [name for name in ALL_TOOLS if name not in WRITE_TOOLS]
#: Every non-boolean JSON value that pydantic's lax ``bool`` turns into ``True``.
COERCIBLE_TRUE: list[Any] = ["yes", "on", "1", 1, "true", 1.0, "True", "YES", "y", "t", "On"]
UNKNOWN = "zz-nobody"
OTHER_IDS = re.compile(r"\bu[123]\b")
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _text(result: Any) -> str:
    """The text of a tool result's first content block."""
    return str(getattr(result.content[0], "text", ""))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _token_file(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / "mcp.token"
    path.write_text(text)
    path.chmod(mode)
    return path


@dataclass
class Server:
    """A running ``serve-mcp`` child process."""

    proc: subprocess.Popen[str]
    port: int
    store: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def post(self, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(self.url, json=INIT, headers={**MCP_HEADERS, **(headers or {})}, timeout=30)

    def run(self, body: Any, token: str = TOKEN) -> Any:
        async def main() -> Any:
            async with Client(self.url, auth=token) as client:
                return await body(client)

        return asyncio.run(main())


def _start(store: Path, *args: str, env_token: str | None = None) -> Server:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("INTEREST_TOOLS_MCP_TOKEN", None)
    if env_token is not None:
        env["INTEREST_TOOLS_MCP_TOKEN"] = env_token
    command = [sys.executable, str(RELIABILITY / "mcp_http_child.py"), "serve-mcp", "--transport", "http"]
    proc = subprocess.Popen(
        [*command, "--store", str(store), "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Server(proc, port, store)


def _wait(server: Server, timeout: float = 120) -> Server:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"serve-mcp exited {server.proc.returncode}: {server.proc.stderr.read()}")  # type: ignore[union-attr]
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", server.port)) == 0:
                return server
        time.sleep(0.2)
    raise AssertionError("serve-mcp did not start listening")


def _stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    assert server.proc.stderr is not None
    server.proc.stderr.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, tiny_template: Path) -> Iterator[dict[str, Server]]:
    """``read``: unbound, token file, allow-lists, no --allow-writes; ``writes``: unbound, env token, --allow-writes."""
    folder = tmp_path_factory.mktemp("mcp_http")
    token_file = _token_file(folder, TOKEN + "\n")
    started = {  # both start at once: their imports overlap
        "read": _start(
            clone_store(tiny_template, folder / "read"),
            *("--token-file", str(token_file), "--allow-origin", "https://app.example", "--allow-host", "mcp.example"),
        ),
        "writes": _start(clone_store(tiny_template, folder / "writes"), "--allow-writes", env_token=ENV_TOKEN),
    }
    try:
        yield {name: _wait(server) for name, server in started.items()}
    finally:
        for server in started.values():
            _stop(server)


# ------------------------------------------------------------------------------------------ starting


@pytest.mark.parametrize(
    ("host", "expected"), [("0.0.0.0", "binds beyond loopback"), ("127.0.0.1", "even on loopback")]
)
def test_http_refuses_to_start_without_a_token(
    host: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTEREST_TOOLS_MCP_TOKEN", raising=False)
    # An unbuilt store: the refusal comes before the store is opened (and before any port is bound).
    result = CliRunner().invoke(app, ["serve-mcp", "--transport", "http", "--host", host, "--store", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "needs a bearer token" in result.output and expected in result.output
    assert "--token-file" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("", 0o600, "is empty"),
        ("  \n", 0o600, "is empty"),
        ("short-token", 0o600, "fewer than 16"),
        ("a token with spaces in it", 0o600, "printable ASCII without spaces"),
        (TOKEN, 0o644, "chmod 600"),
    ],
)
def test_unusable_token_files_are_refused(text: str, mode: int, expected: str, tmp_path: Path) -> None:
    path = _token_file(tmp_path, text, mode)
    args = ["serve-mcp", "--transport", "http", "--token-file", str(path), "--store", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and expected in result.output, result.output


def test_http_only_flags_are_refused_with_stdio(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve-mcp", "--allow-writes", "--store", str(tmp_path)])
    assert result.exit_code == 2 and "apply to --transport http only" in result.output


# ------------------------------------------------------------------------------------------ over HTTP


def test_missing_or_wrong_token_gets_401(servers: dict[str, Server]) -> None:
    read, writes = servers["read"], servers["writes"]
    for server, wrong in ((read, ENV_TOKEN), (writes, TOKEN)):  # each server's token is not the other's
        for headers in ({}, {"Authorization": f"Bearer {wrong}"}, {"Authorization": f"Bearer {TOKEN[:-1]}"}):
            response = server.post(headers)
            assert response.status_code == 401, (headers, response.text)
            assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert read.post({"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert writes.post({"Authorization": f"Bearer {ENV_TOKEN}"}).status_code == 200


def test_host_and_origin_are_checked_before_the_token(servers: dict[str, Server]) -> None:
    server = servers["read"]
    good = {"Authorization": f"Bearer {TOKEN}"}
    for host in ("evil.example", f"evil.example:{server.port}", f"127.0.0.1.evil.example:{server.port}"):
        assert server.post({**good, "Host": host}).status_code == 421, host
    for origin in ("http://evil.example", "https://app.example.evil", "null", f"http://evil.example:{server.port}"):
        assert server.post({**good, "Origin": origin}).status_code == 403, origin
    assert server.post({"Host": "evil.example"}).status_code == 421  # rejected without looking at any token
    # The allow-lists, loopback origins and the server's own origin pass (on to the token check).
    for extra in (
        {"Host": f"mcp.example:{server.port}"},
        {"Origin": "https://app.example"},
        {"Origin": f"http://localhost:{server.port}"},
        {"Origin": f"http://127.0.0.1:{server.port}"},
    ):
        assert server.post({**good, **extra}).status_code == 200, extra
        assert server.post(extra).status_code == 401, extra


def test_unbound_http_without_allow_writes_has_no_write_tools(servers: dict[str, Server]) -> None:
    server = servers["read"]

    async def body(client: Client[Any]) -> tuple[list[str], list[str]]:
        names = [tool.name for tool in await client.list_tools()]
        refused = []
        for name, args in (
            ("interest_forget_user", {"user_id": "u1", "confirm": True}),
            ("interest_feedback", {"user_id": "u1", "kind": "more_category", "category": "Comedy"}),
            ("interest_ingest_events", {"user_id": "u1", "events": [{"item_id": "i01", "timestamp": "2021-01-01"}]}),
        ):
            with pytest.raises(ToolError, match="Unknown tool"):
                await client.call_tool(name, args)
            refused.append(name)
        windows = await client.call_tool("interest_windows", {"user_id": "u1"})
        assert windows.data, "u1 keeps its windows"
        return names, refused

    names, refused = server.run(body)
    assert names == READ_TOOLS and sorted(refused) == sorted(WRITE_TOOLS)
    engine = persistent_engine(server.store)
    assert engine.users() == ["u1", "u2", "u3"] and engine.feedback_records("u1") == []


def test_allow_writes_exposes_the_write_tools_and_forget_takes_only_true(servers: dict[str, Server]) -> None:
    server = servers["writes"]

    async def body(client: Client[Any]) -> tuple[list[str], list[str], Any]:
        names = [tool.name for tool in await client.list_tools()]
        errors = []
        for value in COERCIBLE_TRUE:
            result = await client.call_tool(
                "interest_forget_user", {"user_id": "u3", "confirm": value}, raise_on_error=False
            )
            assert result.is_error, value
            errors.append(_text(result))
        assert (await client.call_tool("interest_windows", {"user_id": "u3"})).data, "nothing was deleted"
        done = await client.call_tool("interest_forget_user", {"user_id": "u3", "confirm": True})
        return names, errors, done.structured_content

    names, errors, done = server.run(body, token=ENV_TOKEN)
    assert names == ALL_TOOLS
    assert all("confirm" in e and "valid boolean" in e for e in errors), errors[:2]
    assert done["deleted"]["events"] > 0


def test_unknown_user_over_http_names_no_other_user(servers: dict[str, Server]) -> None:
    async def body(client: Client[Any]) -> str:
        result = await client.call_tool("interest_forecast", {"user_id": UNKNOWN}, raise_on_error=False)
        assert result.is_error
        return _text(result)

    text = servers["read"].run(body)
    assert f"Unknown user '{UNKNOWN}'" in text and "interest-tools users" in text
    assert not OTHER_IDS.search(text), text


# ------------------------------------------------------------------------------------------ in process


def test_bound_http_server_keeps_the_persons_own_write_tools(mem_engine: Engine) -> None:
    access = HttpAccess.resolve("127.0.0.1", TOKEN)

    async def names(user: str | None, allow_writes: bool) -> list[str]:
        server = create_http_server(mem_engine, access, user_id=user, allow_writes=allow_writes)
        return [t.name for t in await server.list_tools()]

    assert asyncio.run(names("u1", False)) == ALL_TOOLS
    assert asyncio.run(names(None, False)) == READ_TOOLS
    assert asyncio.run(names(None, True)) == ALL_TOOLS


@pytest.fixture
def fresh(tiny_store: Path) -> Engine:
    return persistent_engine(tiny_store)


def _lc_call(engine: Engine, user: str | None, name: str, args: dict[str, Any]) -> Any:
    tool = InterestToolkit(engine=engine, user_id=user).get_tool(name)
    return tool.invoke({"type": "tool_call", "id": "c", "name": name, "args": args})


@pytest.mark.parametrize("value", COERCIBLE_TRUE)
def test_forget_confirm_is_a_strict_boolean_in_every_adapter(fresh: Engine, value: Any) -> None:
    events_before = len(fresh.dataset.events)
    for user, args in ((None, {"user_id": "u2", "confirm": value}), ("u2", {"confirm": value})):
        message = _lc_call(fresh, user, "interest_forget_user", args)
        assert message.status == "error" and "confirm" in message.content, message.content

        async def mcp(user: str | None = user, args: dict[str, Any] = args) -> Any:
            async with Client(create_server(fresh, user_id=user)) as client:
                return await client.call_tool("interest_forget_user", args, raise_on_error=False)

        result = asyncio.run(mcp())
        assert result.is_error and "confirm" in _text(result)
    fresh.reset_cache()
    assert "u2" in fresh.users() and len(fresh.dataset.events) == events_before


def test_unknown_user_messages_name_no_other_user(fresh: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from interest_tools.adapters.cli import _common as cli_common
    from interest_tools.windows import user_windows

    texts = [_lc_call(fresh, None, "interest_summaries", {"user_id": UNKNOWN}).content]

    async def mcp() -> str:
        async with Client(create_server(fresh)) as client:
            result = await client.call_tool("interest_explain_shift", {"user_id": UNKNOWN}, raise_on_error=False)
            return _text(result)

    texts.append(asyncio.run(mcp()))
    monkeypatch.setattr(cli_common, "engine_from", lambda store, url: fresh)  # the commands run through the table
    for command in (["summaries", UNKNOWN], ["forecast", UNKNOWN], ["forget", UNKNOWN]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        texts.append(result.output)
    with pytest.raises(UnknownUserError) as raised:
        user_windows(fresh.dataset.events, fresh.dataset.items, UNKNOWN)
    texts.append(str(raised.value))
    for text in texts:
        assert f"'{UNKNOWN}'" in text and not OTHER_IDS.search(text), text
    users = CliRunner().invoke(app, ["users", "--json"])  # the local operator's way to list them
    assert users.exit_code == 0 and '"u1"' in users.output and '"u3"' in users.output
