"""The MCP server through FastMCP's in-memory client (and once over streamable HTTP, in process)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastmcp import Client, FastMCP

from interest_tools.adapters import InterestToolkit, create_server
from interest_tools.adapters._mcp import create_http_server, run_http_async
from interest_tools.adapters._mcp_access import HttpAccess
from interest_tools.engine import Engine
from tests.harness.data import build_engine

T = TypeVar("T")
TOKEN = "unit-test-token-0123456789"  # HTTP needs a bearer token (see tests/reliability/test_mcp_http_auth.py)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build_engine(tmp_path_factory.mktemp("store"))


def with_client(server: FastMCP | str, body: Callable[[Client[Any]], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Client(server) as client:
            return await body(client)

    return asyncio.run(main())


def call(server: FastMCP, name: str, args: dict[str, Any]) -> Any:
    return with_client(server, lambda c: c.call_tool(name, args, raise_on_error=False))


def test_langchain_and_mcp_tools_agree(engine: Engine) -> None:
    for user in ("u1", None):
        mcp_tools = with_client(create_server(engine, user_id=user), lambda c: c.list_tools())
        lc_tools = InterestToolkit(engine=engine, user_id=user).get_tools()
        assert [t.name for t in mcp_tools] == [t.name for t in lc_tools]
        for mcp_tool, lc_tool in zip(mcp_tools, lc_tools, strict=True):
            assert list(mcp_tool.input_schema["properties"]) == list(lc_tool.args), lc_tool.name
            lc_schema = lc_tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
            assert set(mcp_tool.input_schema.get("required", [])) == set(lc_schema.get("required", []))
            assert mcp_tool.description == lc_tool.description
            assert ("user_id" in mcp_tool.input_schema["properties"]) is (user is None)


def test_forecast_returns_text_and_cli_json(engine: Engine) -> None:
    result = call(create_server(engine, user_id="u1"), "interest_forecast", {})
    assert not result.is_error
    assert result.structured_content == engine.forecast("u1").to_json()
    assert result.data.model == engine.forecaster.serving_model  # read through the declared output schema
    lc = InterestToolkit.for_user(engine, "u1").get_tool("interest_forecast")
    assert result.content[0].text == lc.invoke({"type": "tool_call", "id": "x", "name": lc.name, "args": {}}).content


def test_list_results_are_unwrapped_by_the_client(engine: Engine) -> None:
    result = call(create_server(engine, user_id="u1"), "interest_windows", {"last": 2})
    assert result.structured_content == {"result": [w.to_json() for w in engine.user_windows("u1")][-2:]}
    assert [w.index for w in result.data] == [w.index for w in engine.user_windows("u1")][-2:]


def test_operator_server_takes_user_id(engine: Engine) -> None:
    server = create_server(engine)
    result = call(server, "interest_recommend", {"user_id": "u2", "k": 2})
    assert result.structured_content == engine.recommend("u2", 2).model_dump(mode="json")
    unknown = call(server, "interest_forecast", {"user_id": "nobody"})
    assert unknown.is_error and "Unknown user 'nobody'" in unknown.content[0].text
    assert not re.search(r"\bu[123]\b", unknown.content[0].text)  # never names other users (issue 12)
    missing = call(server, "interest_forecast", {})
    assert missing.is_error and "user_id: Field required" in missing.content[0].text


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("interest_recommend", {"k": 0}, "greater than or equal to 1"),
        ("interest_recommend", {"categories": ["Western"]}, "valid categories: Comedy, Documentary, Drama"),
        ("interest_forecast", {"user_id": "u2"}, "not an argument"),
        ("interest_recommend", {"user_id": "u2"}, "not an argument"),
        ("interest_history_as_of", {"date": "someday"}, "use ISO 8601"),
        ("interest_feedback", {"kind": "love_it"}, "'more_like_item', 'not_this_item'"),
        ("interest_forget_user", {"confirm": False}, "nothing deleted"),
        ("interest_ingest_events", {"events": [{"item_id": "i01", "timestamp": "2021-01-01", "user_id": "u2"}]},
         "events.0.user_id"),
    ],
)  # fmt: skip
def test_caller_errors_are_tool_errors(engine: Engine, name: str, args: dict[str, Any], expected: str) -> None:
    result = call(create_server(engine, user_id="u1"), name, args)
    assert result.is_error and expected in result.content[0].text
    assert result.structured_content is None


def test_unknown_bound_user_does_not_leak_other_users(engine: Engine) -> None:
    result = call(create_server(engine, user_id="nobody"), "interest_explain_shift", {})
    assert result.is_error and "interest_ingest_events" in result.content[0].text
    assert "u1" not in result.content[0].text


def test_internal_errors_are_reported_not_hidden(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("bug in the engine")

    monkeypatch.setattr(engine, "explain", broken)
    result = call(create_server(engine, user_id="u1"), "interest_explain_shift", {})
    assert result.is_error and "bug in the engine" in result.content[0].text


def test_feedback_then_recommend_over_mcp(tmp_path: Path) -> None:
    engine = build_engine(tmp_path / "store")
    server = create_server(engine, user_id="u1")

    async def body(client: Client[Any]) -> tuple[Any, Any]:
        said = await client.call_tool("interest_feedback", {"kind": "no_more_category", "category": "Horror"})
        recs = await client.call_tool("interest_recommend", {"k": 6})
        return said, recs

    said, recs = with_client(server, body)
    assert said.data.user_id == "u1" and said.data.category == "Horror"
    assert recs.data.items and all("Horror" not in it.categories for it in recs.data.items)
    assert engine.preferences("u2").excluded_categories == []


def test_concurrent_calls(engine: Engine) -> None:
    server = create_server(engine, user_id="u3")

    async def body(client: Client[Any]) -> list[Any]:
        calls = [("interest_forecast", {}), ("interest_explain_shift", {}), ("interest_recommend", {"k": 2})] * 4
        return list(await asyncio.gather(*(client.call_tool(n, a) for n, a in calls)))

    results = with_client(server, body)
    assert all(not r.is_error and r.data.user_id == "u3" for r in results)
    assert results[0].structured_content == results[3].structured_content == engine.forecast("u3").to_json()


def test_streamable_http_transport(engine: Engine) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    access = HttpAccess.resolve("127.0.0.1", TOKEN)
    server = create_http_server(engine, access, user_id="u2")

    async def main() -> Any:
        task = asyncio.create_task(run_http_async(server, access, "127.0.0.1", port))
        try:
            for _ in range(100):
                try:
                    async with Client(f"http://127.0.0.1:{port}/mcp", auth=TOKEN) as client:
                        names = [t.name for t in await client.list_tools()]
                        return names, await client.call_tool("interest_forecast", {})
                except Exception:
                    if task.done():
                        raise
                    await asyncio.sleep(0.1)
            raise AssertionError("the HTTP server did not start")
        finally:
            task.cancel()

    names, result = asyncio.run(main())
    assert "interest_recommend" in names and result.structured_content == engine.forecast("u2").to_json()


def test_serve_mcp_cli_rejects_bad_flags_and_unbuilt_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from interest_tools.adapters.cli._common import app

    runner = CliRunner()
    bad = runner.invoke(app, ["serve-mcp", "--transport", "sse", "--store", str(tmp_path)])
    assert bad.exit_code == 2 and "--transport must be stdio or http" in bad.output
    unbuilt = runner.invoke(app, ["serve-mcp", "--store", str(tmp_path / "empty")])
    assert unbuilt.exit_code == 2 and "interest-tools build" in unbuilt.output


# ------------------------------------------------------------------------------------------ issue 15, item 6


def test_server_announces_the_package_version(engine: Engine) -> None:
    from interest_tools import __version__

    async def body(client: Client[Any]) -> str:
        assert client.server_info is not None
        return client.server_info.version

    assert with_client(create_server(engine, user_id="u1"), body) == __version__


def test_every_tool_declares_an_output_schema_its_results_satisfy(tmp_path: Path) -> None:
    import jsonschema

    engine = build_engine(tmp_path / "store")
    server = create_server(engine, user_id="u1", report_dir=tmp_path / "reports")
    calls = {
        "interest_windows": {"last": 2},
        "interest_summaries": {},
        "interest_search_history": {"query": "documentary", "k": 2},
        "interest_history_as_of": {"date": "2020-08-15"},
        "interest_forecast": {},
        "interest_recommend": {"k": 2, "categories": ["Comedy", "Drama"]},
        "interest_explain_shift": {},
        "interest_preferences": {},
        "interest_report": {"format": "md"},
        "interest_ingest_events": {"events": [{"item_id": "i11", "timestamp": "2021-01-05T00:00:00Z"}]},
        "interest_feedback": {"kind": "more_category", "category": "Drama"},
        "interest_forget_user": {"confirm": True},
    }

    async def body(client: Client[Any]) -> tuple[list[Any], list[Any]]:
        tools = await client.list_tools()
        return tools, [await client.call_tool(name, args) for name, args in calls.items()]

    tools, results = with_client(server, body)
    assert [t.name for t in tools] == list(calls)
    for tool, result in zip(tools, results, strict=True):
        schema = tool.outputSchema
        assert schema is not None and schema["type"] == "object", tool.name
        jsonschema.validate(result.structured_content, schema)  # what the server sends is what it declares
        assert result.data is not None, tool.name  # and the client read it through the schema
        wrapped = bool(schema.get("x-fastmcp-wrap-result"))
        assert wrapped is (tool.name in ("interest_windows", "interest_summaries", "interest_search_history"))
        if wrapped:
            assert isinstance(result.data, list) and result.data


def test_list_arguments_have_a_top_level_type(engine: Engine) -> None:
    """The MCP Inspector CLI types --tool-arg values by the schema's ``type``; ``anyOf`` [array, null] has none."""
    for user in ("u1", None):
        tools = with_client(create_server(engine, user_id=user), lambda c: c.list_tools())
        for tool in tools:
            for name, prop in tool.inputSchema["properties"].items():
                branches = prop.get("anyOf", [prop])
                assert all(b.get("type") != "array" for b in branches) or "type" in prop, (tool.name, name, prop)
        recommend = next(t for t in tools if t.name == "interest_recommend").inputSchema["properties"]
        for name in ("categories", "exclude_categories"):
            assert recommend[name]["type"] == "array" and recommend[name]["default"] == []


def test_a_list_argument_passed_as_the_inspector_passes_it(engine: Engine) -> None:
    result = call(create_server(engine, user_id="u2"), "interest_recommend", {"k": 3, "categories": ["Comedy"]})
    assert not result.is_error
    assert [it["item_id"] for it in result.structured_content["items"]] == [
        it.item_id for it in engine.recommend("u2", 3, categories=["Comedy"]).items
    ]
    unfiltered = call(create_server(engine, user_id="u2"), "interest_recommend", {"k": 3, "categories": None})
    assert unfiltered.structured_content == engine.recommend("u2", 3).model_dump(mode="json")  # null: no filter


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"kind": "no_more_category"}, "no_more_category needs category"),
        ({"kind": "more_category", "category": ""}, "more_category needs category"),
        ({"kind": "more_like_item"}, "more_like_item needs item_id"),
    ],
)
def test_feedback_without_its_target_says_what_it_needs(engine: Engine, args: dict[str, Any], expected: str) -> None:
    result = call(create_server(engine, user_id="u1"), "interest_feedback", args)
    assert result.is_error and expected in result.content[0].text
    assert "None" not in result.content[0].text
