"""`interest-tools serve-mcp` as a real stdio subprocess over a store built with the real embedding model."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from interest_tools.data import Dataset, canonicalize_events
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings
from tests.harness.data import make_events, make_items

pytestmark = pytest.mark.integration

NAMES = {
    "interest_windows", "interest_summaries", "interest_search_history", "interest_history_as_of",
    "interest_forecast", "interest_recommend", "interest_explain_shift", "interest_preferences", "interest_report",
    "interest_ingest_events", "interest_feedback", "interest_forget_user",
}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Engine]:
    """A store of the 12-item fixture dataset embedded with the default (real) model, as the CLI would build it."""
    root = tmp_path_factory.mktemp("store")
    engine = Engine(Settings(store_path=root))
    data = Dataset(events=canonicalize_events(make_events()), items=make_items(), name="synthetic")
    engine.build(data, BuildConfig(forecast=ForecastConfig(epochs=2, hidden_size=8, item_dim=8)))
    return root, engine


def stdio_client(root: Path, *extra: str) -> Client[Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    transport = StdioTransport(
        command=sys.executable,
        # The console script's entry point (`python -m interest_tools.adapters.cli._common` runs cli.py as __main__, a second copy
        # of the module that the store commands do not register on).
        args=["-c", "from interest_tools.adapters.cli import main; main()", "serve-mcp", "--store", str(root), *extra],
        env=env,
        keep_alive=False,
    )
    return Client(transport, timeout=120)


def test_stdio_server_lists_tools_and_answers(built: tuple[Path, Engine]) -> None:
    root, engine = built

    async def main() -> tuple[list[Any], Any, Any, Any]:
        async with stdio_client(root, "--user", "u1") as client:
            tools = await client.list_tools()
            forecast = await client.call_tool("interest_forecast", {})
            search = await client.call_tool("interest_search_history", {"query": "documentary films", "k": 3})
            bad = await client.call_tool("interest_recommend", {"categories": ["Western"]}, raise_on_error=False)
            return tools, forecast, search, bad

    tools, forecast, search, bad = asyncio.run(main())
    assert {t.name for t in tools} == NAMES
    assert all("user_id" not in t.input_schema["properties"] for t in tools)
    assert forecast.structured_content == engine.forecast("u1").to_json()
    assert f"Forecast ({engine.forecast('u1').model})" in forecast.content[0].text  # the forecaster that serves
    expected = [h.model_dump(mode="json") for h in engine.search_history("u1", "documentary films", 3)]
    hits = search.structured_content["result"]
    assert [h["index"] for h in hits] == [h["index"] for h in expected]  # same model in both processes
    assert {h["user_id"] for h in hits} == {"u1"}
    assert bad.is_error and "valid categories: Comedy, Documentary, Drama, Horror, Sci-Fi" in bad.content[0].text
