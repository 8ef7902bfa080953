"""langchain-tests' standard ToolsUnitTests for every tool, per-user and operator (one subclass per tool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from interest_tools.adapters import OPERATIONS, InterestToolkit
from interest_tools.data import Dataset, canonicalize_events
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings
from interest_tools.store import InterestStore
from tests.harness.data import make_events, make_items

EXAMPLES: dict[str, dict[str, Any]] = {
    "interest_windows": {"last": 3},
    "interest_summaries": {"last": 2},
    "interest_search_history": {"query": "documentaries", "k": 3},
    "interest_history_as_of": {"date": "2020-08-15"},
    "interest_forecast": {},
    "interest_recommend": {"k": 3, "exclude_categories": ["Horror"]},
    "interest_explain_shift": {},
    "interest_preferences": {"as_of": "2020-08-15"},
    "interest_report": {"format": "md"},
    "interest_ingest_events": {"events": [{"item_id": "i10", "timestamp": "2021-01-05T20:00:00Z", "rating": 4.5}]},
    "interest_feedback": {"kind": "no_more_category", "category": "Horror", "text": "no more horror"},
    "interest_forget_user": {"confirm": True},
}
READS = [op.name for op in OPERATIONS if not op.writes and op.name != "interest_report"]


class _Engine:
    engine: Engine | None = None


@pytest.fixture(scope="module", autouse=True)
def _module_engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    emb = DeterministicFakeEmbedding(size=16)
    engine = Engine(
        Settings(store_path=tmp_path_factory.mktemp("store")), embeddings=emb, store=InterestStore.in_memory(emb)
    )
    data = Dataset(events=canonicalize_events(make_events()), items=make_items(), name="synthetic")
    engine.build(data, BuildConfig(forecast=ForecastConfig(epochs=2, hidden_size=8, item_dim=8)))
    _Engine.engine = engine
    yield
    _Engine.engine = None


class _InterestToolTests(ToolsUnitTests):
    tool_name = ""
    operator = False

    @property
    def tool_constructor(self) -> BaseTool:
        assert _Engine.engine is not None
        if self.operator:
            return InterestToolkit(engine=_Engine.engine, report_dir=Path("unused")).get_tool(self.tool_name)
        return InterestToolkit.for_user(_Engine.engine, "u1").get_tool(self.tool_name)

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        example = dict(EXAMPLES[self.tool_name])
        return {**example, "user_id": "u1"} if self.operator else example

    def test_example_call_succeeds(self, tool: BaseTool) -> None:
        if self.tool_name not in READS:
            pytest.skip("writes or files: exercised in test_tools.py on a private engine")
        msg = tool.invoke({"type": "tool_call", "id": "x", "name": tool.name, "args": self.tool_invoke_params_example})
        assert isinstance(msg, ToolMessage) and msg.status == "success" and msg.content
        artifact = msg.artifact if isinstance(msg.artifact, list) else [msg.artifact]
        assert artifact and all(a["user_id"] == "u1" for a in artifact)


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


for _op in OPERATIONS:
    for _operator in (False, True):
        _cls = f"Test{'Operator' if _operator else 'User'}{_camel(_op.name)}"
        globals()[_cls] = type(_cls, (_InterestToolTests,), {"tool_name": _op.name, "operator": _operator})


def test_every_operation_has_an_example_and_two_test_classes() -> None:
    assert set(EXAMPLES) == {op.name for op in OPERATIONS}
    generated = [n for n in globals() if n.startswith(("TestUser", "TestOperator"))]
    assert len(generated) == 2 * len(OPERATIONS)
