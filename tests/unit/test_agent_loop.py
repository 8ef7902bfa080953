"""End to end through a real LangChain agent loop (langchain.agents.create_agent) with a fake tool-calling model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from pydantic import Field

from interest_tools.adapters import InterestToolkit
from interest_tools.engine import Engine
from tests.harness.data import build_engine


class ToolCallingFake(GenericFakeChatModel):
    """GenericFakeChatModel that accepts bind_tools and remembers the tool schemas it was given."""

    bound: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        self.bound = [t.name for t in tools]
        return self


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build_engine(tmp_path_factory.mktemp("store"))


def tool_call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def script(*steps: AIMessage) -> Iterator[AIMessage]:
    return iter(steps)


def run_agent(tools: list[BaseTool], model: ToolCallingFake, question: str) -> list[Any]:
    agent = create_agent(model, tools, system_prompt="You help a person understand their interests.")
    result = agent.invoke({"messages": [HumanMessage(question)]})
    return list(result["messages"])


def test_agent_calls_explain_then_recommend_and_answers(engine: Engine) -> None:
    model = ToolCallingFake(
        messages=script(
            AIMessage("", tool_calls=[tool_call("interest_explain_shift", {}, "c1")]),
            AIMessage("", tool_calls=[tool_call("interest_recommend", {"k": 3}, "c2")]),
            AIMessage("Your taste moved from Sci-Fi to Documentary in July 2020; try these."),
        )
    )
    tools = InterestToolkit.for_user(engine, "u1").get_tools()
    messages = run_agent(tools, model, "How have my tastes changed, and what should I watch next?")

    assert model.bound == [t.name for t in tools]
    tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == ["interest_explain_shift", "interest_recommend"]
    explain, recommend = tool_messages
    assert explain.status == "success" and explain.tool_call_id == "c1"
    assert explain.artifact == engine.explain("u1").to_json()
    assert "July 2020" in explain.content and "Documentary" in explain.content and "Sci-Fi" in explain.content
    expected = engine.recommend("u1", 3).model_dump(mode="json")
    assert recommend.artifact == expected
    for item in expected["items"]:
        assert item["title"] in recommend.content and item["reason"] in recommend.content
    assert isinstance(messages[-1], AIMessage) and "July 2020" in messages[-1].content


def test_agent_loop_survives_bad_calls(engine: Engine) -> None:
    """Caller mistakes come back as error tool messages; the loop goes on and the model can retry."""
    model = ToolCallingFake(
        messages=script(
            AIMessage(
                "",
                tool_calls=[
                    tool_call("interest_recommend", {"k": 500}, "bad-k"),
                    tool_call("interest_recommend", {"k": 2, "user_id": "u2"}, "other-user"),
                    tool_call("interest_recommend", {"categories": ["Western"]}, "bad-category"),
                    tool_call("interest_history_as_of", {"date": "1999-01-01"}, "bad-date"),
                ],
            ),
            AIMessage("", tool_calls=[tool_call("interest_recommend", {"k": 2, "categories": ["Comedy"]}, "ok")]),
            AIMessage("Here are two comedies."),
        )
    )
    messages = run_agent(InterestToolkit.for_user(engine, "u1").get_tools(), model, "Suggest something.")
    by_id = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    assert {k for k, m in by_id.items() if m.status == "error"} == {"bad-k", "other-user", "bad-category", "bad-date"}
    assert "less than or equal to 50" in by_id["bad-k"].content
    assert "not an argument" in by_id["other-user"].content
    assert "valid categories: Comedy, Documentary, Drama, Horror, Sci-Fi" in by_id["bad-category"].content
    assert "valid dates are" in by_id["bad-date"].content
    ok = by_id["ok"]
    assert ok.status == "success" and ok.artifact["user_id"] == "u1"
    assert len(ok.artifact["items"]) == 2 and all("Comedy" in it["categories"] for it in ok.artifact["items"])
    assert messages[-1].content == "Here are two comedies."


def test_feedback_in_the_chat_changes_the_next_recommendation(tmp_path: Path) -> None:
    engine = build_engine(tmp_path / "store")
    model = ToolCallingFake(
        messages=script(
            AIMessage(
                "",
                tool_calls=[
                    tool_call(
                        "interest_feedback",
                        {"kind": "no_more_category", "category": "Horror", "text": "no more horror"},
                        "f",
                    )
                ],
            ),
            AIMessage("", tool_calls=[tool_call("interest_recommend", {"k": 6}, "r")]),
            AIMessage("", tool_calls=[tool_call("interest_explain_shift", {}, "e")]),
            AIMessage("Noted, no more horror."),
        )
    )
    before = engine.recommend("u1", 6).items
    assert any("Horror" in it.categories for it in before)
    messages = run_agent(InterestToolkit.for_user(engine, "u1").get_tools(), model, "No more horror, please.")
    by_id = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    assert by_id["f"].status == "success"
    items = by_id["r"].artifact["items"]
    assert items and all("Horror" not in it["categories"] for it in items)
    assert "no more Horror" in by_id["e"].artifact["stated_preferences"]
