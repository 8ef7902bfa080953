"""Every adapter validates through the one operations table: the CLI, the LangChain tools and the MCP tools accept
and refuse the same arguments with the same message (issue 15, item 2); the CLI exits 2 on a refusal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from langchain_core.messages import ToolMessage
from typer.testing import CliRunner

import interest_tools.adapters.cli._common as cli_common
from interest_tools.adapters import InterestToolkit, create_server
from interest_tools.adapters.cli import app
from interest_tools.engine import Engine
from tests.harness.data import build_engine

#: (tool, arguments, the same request on the command line after the user id, words the message must hold)
BAD = [
    ("interest_recommend", {"k": -3}, ["recommend", "-k", "-3"], "greater than or equal to 1"),
    ("interest_recommend", {"k": 0}, ["recommend", "-k", "0"], "greater than or equal to 1"),
    ("interest_recommend", {"k": 51}, ["recommend", "-k", "51"], "less than or equal to 50"),
    ("interest_recommend", {"categories": ["Horor"]}, ["recommend", "--category", "Horor"],
     "unknown categor(ies) ['Horor']; valid categories: Comedy, Documentary, Drama, Horror, Sci-Fi"),
    ("interest_recommend", {"exclude_categories": ["Horor"]}, ["recommend", "--exclude-category", "Horor"],
     "unknown categor(ies) ['Horor']"),
    ("interest_search_history", {"query": "horror", "k": 0}, ["search", "horror", "-k", "0"],
     "greater than or equal to 1"),
    ("interest_search_history", {"query": "horror", "k": 21}, ["search", "horror", "-k", "21"],
     "less than or equal to 20"),
    ("interest_history_as_of", {"date": "someday"}, ["history", "--as-of", "someday"], "use ISO 8601"),
    ("interest_history_as_of", {"date": "1999-01-01"}, ["history", "--as-of", "1999-01-01"], "valid dates are"),
    ("interest_feedback", {"kind": "love_it"}, ["feedback", "--kind", "love_it"], "'more_like_item'"),
    ("interest_feedback", {"kind": "no_more_category"}, ["feedback", "--kind", "no_more_category"],
     "no_more_category needs category"),
    ("interest_feedback", {"kind": "no_more_category", "category": "Horor"},
     ["feedback", "--kind", "no_more_category", "--category", "Horor"], "valid categories: Comedy"),
    ("interest_feedback", {"kind": "not_this_item", "item_id": "zzz"},
     ["feedback", "--kind", "not_this_item", "--item", "zzz"], "not in the catalog"),
    ("interest_report", {"format": "pdf"}, ["report", "--format", "pdf"], "format: Input should be 'html' or 'md'"),
]  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build_engine(tmp_path_factory.mktemp("store"))


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI over the test engine (its in-memory store and fake embeddings)."""
    monkeypatch.setattr(cli_common, "engine_from", lambda store, url: engine)
    return CliRunner()


def _langchain(engine: Engine, name: str, args: dict[str, Any]) -> ToolMessage:
    tool = InterestToolkit(engine=engine).get_tool(name)
    msg = tool.invoke({"type": "tool_call", "id": "c1", "name": name, "args": {"user_id": "u1", **args}})
    assert isinstance(msg, ToolMessage)
    return msg


def _mcp(engine: Engine, name: str, args: dict[str, Any]) -> Any:
    async def main() -> Any:
        async with Client(create_server(engine)) as client:
            return await client.call_tool(name, {"user_id": "u1", **args}, raise_on_error=False)

    return asyncio.run(main())


@pytest.mark.parametrize(("name", "args", "argv", "expected"), BAD, ids=[f"{b[0]}-{b[2][1:]}" for b in BAD])
def test_the_same_bad_arguments_get_the_same_refusal(
    engine: Engine, cli: CliRunner, tmp_path: Path, name: str, args: dict[str, Any], argv: list[str], expected: str
) -> None:
    lc = _langchain(engine, name, args)
    mcp = _mcp(engine, name, args)
    command = [argv[0], "u1", *argv[1:]] + (["--out", str(tmp_path / "r.html")] if argv[0] == "report" else [])
    result = cli.invoke(app, command)
    assert lc.status == "error" and mcp.is_error and result.exit_code == 2, (lc.content, result.output)
    cli_message = result.stderr.strip().removeprefix("error: ")
    assert lc.content == mcp.content[0].text == cli_message
    assert expected in cli_message
    assert result.stdout == ""  # no table, no JSON: nothing but the refusal


def test_the_same_good_arguments_get_the_same_json(engine: Engine, cli: CliRunner) -> None:
    args = {"k": 3, "categories": ["Comedy", "Drama"]}
    lc = _langchain(engine, "interest_recommend", args)
    mcp = _mcp(engine, "interest_recommend", args)
    result = cli.invoke(app, ["recommend", "u1", "-k", "3", "--category", "Comedy", "--category", "Drama", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == lc.artifact == mcp.structured_content
    assert len(lc.artifact["items"]) == 3
