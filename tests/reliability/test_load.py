"""Promise 10: 50 concurrent calls complete without error and give the same answers as sequential calls.

Runs against the Engine methods and through the per-user LangChain tools, on a persistent store; prints the
latency percentiles (run with ``-s`` to see them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from interest_tools.engine import Engine
from tests.harness.stores import persistent_engine

USERS = ["u1", "u2", "u3"]
N_CALLS = 50


def _engine_calls(engine: Engine) -> list[tuple[str, Callable[[], Any]]]:
    makers: list[tuple[str, Callable[[str, int], Callable[[], Any]]]] = [
        (
            "search",
            lambda u, i: lambda: engine.search_history(u, ["documentary", "horror", "comedy"][i % 3], 1 + i % 5),
        ),
        ("forecast", lambda u, i: lambda: engine.forecast(u)),
        ("recommend", lambda u, i: lambda: engine.recommend(u, 1 + i % 5)),
        ("explain", lambda u, i: lambda: engine.explain(u)),
        ("as_of", lambda u, i: lambda: engine.history_as_of(u, f"2020-{1 + i % 12:02d}-15")),
        ("summaries", lambda u, i: lambda: engine.user_summaries(u)),
    ]
    calls = []
    for i in range(N_CALLS):
        name, make = makers[i % len(makers)]
        user = USERS[i % len(USERS)]
        calls.append((f"{name}:{user}:{i}", make(user, i)))
    return calls


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _run(calls: Sequence[tuple[str, Callable[..., Any]]], label: str) -> None:
    sequential = {name: _plain(call()) for name, call in calls}
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=N_CALLS) as pool:
        futures = {name: pool.submit(_timed, call) for name, call in calls}
        results = {name: future.result(timeout=120) for name, future in futures.items()}  # re-raises any error
    wall = time.perf_counter() - started
    latencies = np.array([seconds for _, seconds in results.values()])
    print(
        f"\n{label}: {len(calls)} concurrent calls in {wall:.2f} s; latency p50 {np.percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {np.percentile(latencies, 95) * 1000:.0f} ms, max {latencies.max() * 1000:.0f} ms"
    )
    for name, (value, _) in results.items():
        assert _plain(value) == sequential[name], name


def test_50_concurrent_engine_calls_match_sequential(tiny_store: Path) -> None:
    engine = persistent_engine(tiny_store)
    _run(_engine_calls(engine), "engine")


def test_50_concurrent_tool_calls_match_sequential(tiny_store: Path) -> None:
    from interest_tools.adapters import InterestToolkit

    engine = persistent_engine(tiny_store)
    tools = {u: {t.name: t for t in InterestToolkit.for_user(engine, u).get_tools()} for u in USERS}
    plans = [
        ("interest_search_history", lambda i: {"query": ["documentary", "horror", "comedy"][i % 3], "k": 1 + i % 5}),
        ("interest_forecast", lambda i: {}),
        ("interest_recommend", lambda i: {"k": 1 + i % 5}),
        ("interest_explain_shift", lambda i: {}),
        ("interest_history_as_of", lambda i: {"date": f"2020-{1 + i % 12:02d}-15"}),
        ("interest_summaries", lambda i: {}),
    ]
    calls = []
    for i in range(N_CALLS):
        name, args = plans[i % len(plans)]
        tool = tools[USERS[i % len(USERS)]][name]
        call = {"name": name, "args": args(i), "id": f"call{i}", "type": "tool_call"}
        calls.append((f"{name}:{i}", lambda tool=tool, call=call: _message(tool.invoke(call))))
    _run(calls, "tools")


def _message(message: Any) -> dict[str, Any]:
    assert getattr(message, "status", "success") == "success", message.content
    return {"content": message.content, "artifact": _plain(message.artifact)}


def test_50_concurrent_mcp_calls_over_http_match_sequential(tiny_store: Path) -> None:
    import asyncio
    import socket

    from fastmcp import Client

    from interest_tools.adapters._mcp import create_http_server, run_http_async
    from interest_tools.adapters._mcp_access import HttpAccess

    engine = persistent_engine(tiny_store)
    token = "load-test-token-0123456789"
    access = HttpAccess.resolve("127.0.0.1", token)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = create_http_server(engine, access)  # operator tools (read-only): user_id is an argument
    plans = [
        ("interest_search_history", lambda i: {"query": ["documentary", "horror", "comedy"][i % 3], "k": 1 + i % 5}),
        ("interest_forecast", lambda i: {}),
        ("interest_recommend", lambda i: {"k": 1 + i % 5}),
        ("interest_explain_shift", lambda i: {}),
        ("interest_history_as_of", lambda i: {"date": f"2020-{1 + i % 12:02d}-15"}),
        ("interest_summaries", lambda i: {}),
    ]
    calls = [
        (plans[i % len(plans)][0], {**plans[i % len(plans)][1](i), "user_id": USERS[i % len(USERS)]})
        for i in range(N_CALLS)
    ]

    async def timed(client: Any, name: str, args: dict[str, Any]) -> tuple[Any, float]:
        started = time.perf_counter()
        result = await client.call_tool(name, args)
        return result.structured_content, time.perf_counter() - started

    async def main() -> tuple[list[Any], list[tuple[Any, float]], float]:
        task = asyncio.create_task(run_http_async(server, access, "127.0.0.1", port))
        try:
            for _ in range(200):
                try:
                    async with Client(f"http://127.0.0.1:{port}/mcp", auth=token) as client:
                        sequential = [(await client.call_tool(n, a)).structured_content for n, a in calls]
                        started = time.perf_counter()
                        concurrent = await asyncio.gather(*(timed(client, n, a) for n, a in calls))
                        return sequential, concurrent, time.perf_counter() - started
                except (OSError, RuntimeError) as exc:  # the server is not listening yet
                    if task.done():
                        raise
                    last = exc
                    await asyncio.sleep(0.1)
            raise AssertionError(f"the HTTP server did not start: {last}")
        finally:
            task.cancel()

    sequential, concurrent, wall = asyncio.run(main())
    latencies = np.array([seconds for _, seconds in concurrent])
    print(
        f"\nmcp-http: {N_CALLS} concurrent calls in {wall:.2f} s; latency p50 {np.percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {np.percentile(latencies, 95) * 1000:.0f} ms"
    )
    assert [value for value, _ in concurrent] == sequential
    assert all(value for value in sequential)
