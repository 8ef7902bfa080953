"""The LangChain toolkit: schemas, results (text + CLI JSON), caller errors, user isolation, feedback, threads."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from interest_tools.adapters import InterestToolkit
from interest_tools.adapters._operation_context import engine_lock
from interest_tools.engine import Engine
from interest_tools.errors import ConfigError
from interest_tools.settings import Settings
from interest_tools.store import InterestStore
from tests.harness.data import build_engine

NAMES = [
    "interest_windows",
    "interest_summaries",
    "interest_search_history",
    "interest_history_as_of",
    "interest_forecast",
    "interest_recommend",
    "interest_explain_shift",
    "interest_preferences",
    "interest_report",
    "interest_ingest_events",
    "interest_feedback",
    "interest_forget_user",
]
CATEGORIES = ["Comedy", "Documentary", "Drama", "Horror", "Sci-Fi"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build_engine(tmp_path_factory.mktemp("store"))


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Engine:
    """A private engine for tests that write (ingest, feedback, forget)."""
    return build_engine(tmp_path / "store")


def call(tool: BaseTool, args: dict[str, Any]) -> ToolMessage:
    """Invoke the way an agent does (a tool call), so errors come back as tool messages."""
    msg = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


def user_tool(engine: Engine, name: str, user: str = "u1") -> BaseTool:
    return InterestToolkit.for_user(engine, user).get_tool(name)


# ------------------------------------------------------------------------------------------ schemas


def test_toolkit_has_every_tool_in_order(engine: Engine) -> None:
    assert [t.name for t in InterestToolkit.for_user(engine, "u1").get_tools()] == NAMES
    assert [t.name for t in InterestToolkit(engine=engine).get_tools()] == NAMES


def test_per_user_schemas_have_no_user_id(engine: Engine) -> None:
    for tool in InterestToolkit.for_user(engine, "u1").get_tools():
        schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
        assert "user_id" not in json.dumps(schema), tool.name
        assert "user_id" not in tool.args


def test_operator_schemas_require_user_id(engine: Engine) -> None:
    for tool in InterestToolkit(engine=engine).get_tools():
        schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
        assert "user_id" in schema["required"], tool.name


def test_every_field_and_tool_is_described(engine: Engine) -> None:
    for toolkit in (InterestToolkit.for_user(engine, "u1"), InterestToolkit(engine=engine)):
        for tool in toolkit.get_tools():
            assert "Use when" in tool.description or "Use only when" in tool.description, tool.name
            assert tool.response_format == "content_and_artifact"
            assert tool.handle_tool_error is True
            schema = tool.args_schema.model_json_schema()  # type: ignore[union-attr]
            models = [schema, *schema.get("$defs", {}).values()]
            for model in models:
                for name, prop in model.get("properties", {}).items():
                    assert prop.get("description"), f"{tool.name}.{name}"


def test_include_selects_tools_and_rejects_unknown_names(engine: Engine) -> None:
    toolkit = InterestToolkit.for_user(engine, "u1", include=["interest_recommend", "interest_forecast"])
    assert [t.name for t in toolkit.get_tools()] == ["interest_forecast", "interest_recommend"]
    with pytest.raises(ValueError, match="valid names: interest_windows"):
        InterestToolkit.for_user(engine, "u1", include=["interest_nope"])
    with pytest.raises(ConfigError, match="interest_nope"):
        toolkit.get_tool("interest_nope")


# ------------------------------------------------------------------------------------------ results


def test_forecast_returns_text_and_cli_json(engine: Engine) -> None:
    msg = call(user_tool(engine, "interest_forecast"), {})
    assert msg.status == "success"
    expected = engine.forecast("u1").to_json()
    assert msg.artifact == expected
    assert set(msg.artifact) == {"user_id", "next_window", "category_weights", "rising", "falling", "model"}
    top = next(iter(expected["category_weights"]))
    assert top in msg.content and expected["model"] in msg.content  # the forecaster that answered (issue 14)


def test_recommend_returns_items_with_ids_and_reasons(engine: Engine) -> None:
    msg = call(user_tool(engine, "interest_recommend"), {"k": 3})
    assert msg.artifact == engine.recommend("u1", 3).model_dump(mode="json")
    assert set(msg.artifact) == {"user_id", "items"}
    assert len(msg.artifact["items"]) == 3
    for item in msg.artifact["items"]:
        assert item["title"] in msg.content and f"item_id {item['item_id']}" in msg.content
        assert item["reason"]


def test_explain_shift_names_the_july_shift(engine: Engine) -> None:
    msg = call(user_tool(engine, "interest_explain_shift"), {})
    assert {"user_id", "shifts", "stable", "narrative"} <= set(msg.artifact)
    assert msg.artifact == engine.explain("u1").to_json()
    assert "July 2020" in msg.content and "Documentary" in msg.content


def test_windows_and_summaries_return_cli_json(engine: Engine) -> None:
    wins = call(user_tool(engine, "interest_windows"), {}).artifact
    assert wins == [w.to_json() for w in engine.user_windows("u1")]
    assert len(wins) == 12
    last = call(user_tool(engine, "interest_windows"), {"last": 2})
    assert last.artifact == wins[-2:]
    assert "Documentary" in last.content
    sums = call(user_tool(engine, "interest_summaries"), {"last": 3})
    assert sums.artifact == [s.to_json() for s in engine.user_summaries("u1")][-3:]
    assert "December 2020" in sums.content


def test_search_and_history_as_of(engine: Engine) -> None:
    hits = call(user_tool(engine, "interest_search_history"), {"query": "documentary", "k": 4}).artifact
    assert len(hits) == 4 and {h["user_id"] for h in hits} == {"u1"}
    asof = call(user_tool(engine, "interest_history_as_of"), {"date": "2020-08-15"})
    assert asof.artifact["covered"] is True
    assert asof.artifact["window"]["categories"][0]["category"] == "Documentary"
    assert asof.content == asof.artifact["narrative"]


def test_report_is_written_where_the_operator_says(engine: Engine, tmp_path: Path) -> None:
    toolkit = InterestToolkit.for_user(engine, "u1", report_dir=tmp_path / "reports")
    msg = call(toolkit.get_tool("interest_report"), {"format": "md"})
    files = [Path(f) for f in msg.artifact["files"]]
    assert msg.artifact["user_id"] == "u1" and files[0].suffix == ".md"
    assert all(f.is_file() and tmp_path in f.parents for f in files)
    assert "Documentary" in files[0].read_text()


def test_async_invocation(engine: Engine) -> None:
    tool = user_tool(engine, "interest_forecast")
    msg = asyncio.run(tool.ainvoke({"type": "tool_call", "id": "a", "name": tool.name, "args": {}}))
    assert msg.artifact["user_id"] == "u1"


# ------------------------------------------------------------------------------------------ caller errors


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("interest_recommend", {"k": 500}, "less than or equal to 50"),
        ("interest_recommend", {"k": 0}, "greater than or equal to 1"),
        ("interest_recommend", {"categories": ["Western"]}, "valid categories: " + ", ".join(CATEGORIES)),
        ("interest_recommend", {"exclude_categories": ["Noir"]}, "valid categories: Comedy"),
        ("interest_history_as_of", {"date": "not a date"}, "use ISO 8601"),
        ("interest_history_as_of", {"date": "1999-01-01"}, "valid dates are 2020-01-01"),
        ("interest_search_history", {"query": "x", "k": 99}, "less than or equal to 20"),
        ("interest_search_history", {}, "query: Field required"),
        ("interest_feedback", {"kind": "love_it"}, "'more_like_item', 'not_this_item'"),
        ("interest_feedback", {"kind": "more_like_item", "item_id": "zzz"}, "not in the catalog"),
        ("interest_feedback", {"kind": "no_more_category", "category": "Western"}, "valid categories: Comedy"),
        ("interest_forget_user", {"confirm": False}, "nothing deleted"),
        ("interest_windows", {"last": 0}, "greater than or equal to 1"),
    ],
)
def test_caller_errors_become_error_messages(engine: Engine, name: str, args: dict[str, Any], expected: str) -> None:
    msg = call(user_tool(engine, name), args)
    assert msg.status == "error"
    assert expected in msg.content
    assert msg.artifact is None


def test_unknown_user_operator_names_no_other_user(engine: Engine) -> None:
    msg = call(InterestToolkit(engine=engine).get_tool("interest_forecast"), {"user_id": "nobody"})
    assert msg.status == "error" and "Unknown user 'nobody'" in msg.content and "interest-tools users" in msg.content
    assert not any(u in msg.content for u in ("u1", "u2", "u3"))


def test_unknown_bound_user_does_not_leak_other_users(engine: Engine) -> None:
    for name in ("interest_forecast", "interest_windows", "interest_recommend", "interest_explain_shift"):
        msg = call(user_tool(engine, name, user="nobody"), {})
        assert msg.status == "error" and "interest_ingest_events" in msg.content
        assert "u2" not in msg.content and "u3" not in msg.content


def test_not_built_store_is_an_error_message(tmp_path: Path) -> None:
    emb = DeterministicFakeEmbedding(size=16)
    empty = Engine(Settings(store_path=tmp_path), embeddings=emb, store=InterestStore.in_memory(emb))
    msg = call(user_tool(empty, "interest_forecast"), {})
    assert msg.status == "error" and "interest-tools build" in msg.content


def test_internal_errors_are_not_hidden(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("bug in the engine")

    monkeypatch.setattr(engine, "forecast", broken)
    with pytest.raises(RuntimeError, match="bug in the engine"):
        call(user_tool(engine, "interest_forecast"), {})


# ------------------------------------------------------------------------------------------ isolation


def test_user_id_argument_cannot_switch_user(engine: Engine) -> None:
    rejected = call(user_tool(engine, "interest_recommend"), {"k": 2, "user_id": "u2"})
    assert rejected.status == "error" and "not an argument" in rejected.content
    ignored = call(user_tool(engine, "interest_forecast"), {"user_id": "u2"})
    assert ignored.artifact["user_id"] == "u1"
    assert ignored.artifact == engine.forecast("u1").to_json() != engine.forecast("u2").to_json()
    hits = call(user_tool(engine, "interest_search_history"), {"query": "comedy", "k": 20}).artifact
    assert {h["user_id"] for h in hits} == {"u1"}


def test_ingest_appends_for_the_bound_user_only(fresh_engine: Engine) -> None:
    before = fresh_engine.dataset.events["user_id"].value_counts().to_dict()
    tool = user_tool(fresh_engine, "interest_ingest_events", user="u2")
    smuggled = call(tool, {"events": [{"item_id": "i06", "timestamp": "2021-01-05", "user_id": "u3"}]})
    assert smuggled.status == "error" and "events.0.user_id" in smuggled.content
    unknown = call(tool, {"events": [{"item_id": "i99", "timestamp": "2021-01-05"}]})
    assert unknown.status == "error" and "not in the catalog" in unknown.content
    bad_time = call(tool, {"events": [{"item_id": "i06", "timestamp": "yesterday-ish"}]})
    assert bad_time.status == "error" and "timestamp" in bad_time.content
    assert fresh_engine.dataset.events["user_id"].value_counts().to_dict() == before  # nothing stored on errors
    ok = call(tool, {"events": [{"item_id": "i06", "timestamp": "2021-01-05T20:00:00Z", "rating": 5},
                                {"item_id": "i07", "timestamp": "2021-01-06T20:00:00Z"}]})  # fmt: skip
    assert ok.status == "success" and ok.artifact["user_id"] == "u2" and ok.artifact["users_touched"] == 1
    after = fresh_engine.dataset.events["user_id"].value_counts().to_dict()
    assert after == {**before, "u2": before["u2"] + 2}
    latest = call(user_tool(fresh_engine, "interest_windows", "u2"), {"last": 1}).artifact[0]
    assert latest["start"].startswith("2021-01-01") and latest["item_ids"] == ["i06", "i07"]
    assert next(iter(latest["category_weights"])) == "Horror"


def test_forget_removes_only_the_bound_user(fresh_engine: Engine) -> None:
    msg = call(user_tool(fresh_engine, "interest_forget_user", user="u3"), {"confirm": True, "user_id": "u1"})
    assert msg.status == "error" and "not an argument" in msg.content
    assert fresh_engine.users() == ["u1", "u2", "u3"]
    msg = call(user_tool(fresh_engine, "interest_forget_user", user="u3"), {"confirm": True})
    assert msg.status == "success" and msg.artifact == {"user_id": "u3", "deleted": msg.artifact["deleted"]}
    assert msg.artifact["deleted"]["events"] == 36
    assert fresh_engine.users() == ["u1", "u2"]
    gone = call(user_tool(fresh_engine, "interest_forecast", user="u3"), {})
    assert gone.status == "error"
    assert call(user_tool(fresh_engine, "interest_forecast", user="u1"), {}).status == "success"


# ------------------------------------------------------------------------------------------ feedback


def test_feedback_applies_to_the_next_recommendation(fresh_engine: Engine) -> None:
    toolkit = InterestToolkit.for_user(fresh_engine, "u1")
    recommend, feedback = toolkit.get_tool("interest_recommend"), toolkit.get_tool("interest_feedback")
    first = call(recommend, {"k": 6}).artifact["items"]
    assert any("Horror" in it["categories"] for it in first)
    top = first[0]["item_id"]
    said = call(feedback, {"kind": "no_more_category", "category": "Horror", "text": "no more horror please"})
    assert said.status == "success" and "no more Horror" in said.content
    assert said.artifact["user_id"] == "u1" and said.artifact["kind"] == "no_more_category"
    call(feedback, {"kind": "not_this_item", "item_id": top})
    after = call(recommend, {"k": 6}).artifact["items"]
    assert after and all("Horror" not in it["categories"] for it in after)
    assert top not in [it["item_id"] for it in after]
    explained = call(toolkit.get_tool("interest_explain_shift"), {})
    assert "no more Horror" in explained.artifact["stated_preferences"]
    assert "Stated preferences:" in explained.content and "no more Horror" in explained.content
    other = call(user_tool(fresh_engine, "interest_explain_shift", user="u2"), {}).artifact
    assert other["stated_preferences"] == []


# ------------------------------------------------------------------------------------------ threads


def test_concurrent_calls_agree_with_serial_calls(fresh_engine: Engine) -> None:
    toolkit = InterestToolkit.for_user(fresh_engine, "u2")
    reads: list[tuple[str, dict[str, Any]]] = [
        ("interest_forecast", {}),
        ("interest_explain_shift", {}),
        ("interest_windows", {"last": 3}),
        ("interest_search_history", {"query": "comedy", "k": 3}),
        ("interest_history_as_of", {"date": "2020-05-02"}),
    ]
    serial = {name: call(toolkit.get_tool(name), args).artifact for name, args in reads}
    fresh_engine.reset_cache()  # start cold, so that the threads' first calls contend for the loading
    engine_lock(fresh_engine).warm = False
    jobs = [*reads * 6, ("interest_feedback", {"kind": "more_category", "category": "Comedy"})]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: (job[0], call(toolkit.get_tool(job[0]), job[1])), jobs))
    assert all(msg.status == "success" for _, msg in results)
    for name, msg in results:
        if name in serial:
            assert msg.artifact == serial[name], name
    assert fresh_engine.preferences("u2").boosted_categories == ["Comedy"]
