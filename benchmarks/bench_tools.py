"""Warm latency of every Engine operation on the bundled data (no LLM), sequential and with 8 threads.

A store is built once (real embedding model, template summaries, a short LSTM training: latency does not
depend on the epoch count) or reused with ``--store``. After one warm-up call per operation, each operation is
called ``--calls`` times on seeded random users; then the same calls run from ``--threads`` concurrent
threads. Peers timed in the same run: a bare query embedding and a bare Chroma nearest-item query (the floor of
search_history and of recommend's retrieval). Targets: p95 <= 50 ms for recommend and explain.

Stated preferences (issue 16): before timing, ``--statements`` statements per user are written to the feedback
log (a superseded one, an expired one and in-force ones; 610 users x 4 = 2,440 records by default), so every
recommend applies a real timeline. ``preferences_overhead`` then times, per seeded user and in alternating order,
recommend as served and recommend with no preferences applied; the target is a median difference <= 1 ms.
``apply_preferences`` times the added work alone (read the cached log, fold the timeline at now).

With ``--fake-embeddings`` the store is built with DeterministicFakeEmbedding (384 dims, like the real model,
so Chroma costs are the same) to save the minutes of real encoding; only search_history's query embedding
differs, and the real model's query embedding is then timed as the peer ``peer_real_embed_query``.

Usage: python benchmarks/bench_tools.py [--store DIR] [--calls 100] [--threads 8] [--epochs 3] [--fake-embeddings]
       [--statements 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
from _common import emit, machine, peak_rss_mib

from interest_tools.datasets import load_movielens_small
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig
from interest_tools.recommend import RecommendConfig, recommend, statement_record, user_context
from interest_tools.settings import Settings
from interest_tools.store import _state as state

QUERIES = ["space adventures", "romantic comedies", "documentaries about nature", "dark thrillers", "animation"]


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    ms = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "n": len(samples),
    }


def operations(engine: Engine) -> dict[str, Callable[[str, int], Any]]:
    """Every read operation, as f(user, call number)."""
    dates = engine.dataset.events.groupby("user_id")["timestamp"].median()
    return {
        "windows": lambda u, i: engine.user_windows(u),
        "summaries": lambda u, i: engine.user_summaries(u),
        "search_history": lambda u, i: engine.search_history(u, QUERIES[i % len(QUERIES)], 5),
        "history_as_of": lambda u, i: engine.history_as_of(u, dates[u].to_pydatetime()),
        "forecast": lambda u, i: engine.forecast(u),
        "recommend": lambda u, i: engine.recommend(u, 10),
        "apply_preferences": lambda u, i: engine.preferences(u),
        "explain": lambda u, i: engine.explain(u),
        "peer_embed_query": lambda u, i: engine.embeddings.embed_query(QUERIES[i % len(QUERIES)]),
        "peer_chroma_item_query": lambda u, i: engine.store.query_items(vector=VEC[i % len(VEC)], k=200),
    }


VEC: list[np.ndarray] = []


def write_statements(engine: Engine, per_user: int) -> int:
    """``per_user`` statements for every user (superseded, expired, in force), written as one log; returns the count."""
    now = state.now()
    cats = sorted({c for cs in engine.dataset.items["categories"] for c in cs})
    records = []
    for n, user in enumerate(engine.users()):
        a, b = cats[n % len(cats)], cats[(n + 3) % len(cats)]
        said = [
            ("more_category", a, 60, None),
            ("no_more_category", a, 30, None),  # the second supersedes
            ("no_more_category", b, 90, 60),
            ("more_category", b, 5, None),
        ]  # an expired one, then one in force
        for j in range(per_user):
            kind, cat, ago, lasts = said[j % len(said)]
            when = now - pd.Timedelta(days=ago + 100 * (j // len(said)))
            until = None if lasts is None else when + pd.Timedelta(days=lasts)
            records.append(statement_record(user, kind, item_id=None, category=cat, text="", now=now,
                                            stated_at=when, valid_until=until))  # fmt: skip
    state.rewrite_jsonl(engine.root, state.FEEDBACK, records)
    return len(records)


def recommend_without_preferences(engine: Engine, user: str) -> Any:
    """Engine.recommend with no stated preferences applied (the baseline of ``preferences_overhead``)."""
    raw, scores = engine.forecaster.forecast_and_scores(user)
    ctx = user_context(engine._framed(raw), engine.user_events(user), scores, engine.item_ids)  # noqa: SLF001 - as Engine.recommend
    return recommend(ctx, index=engine.item_index, items=engine.dataset.items, popularity=engine.popularity,
                     config=RecommendConfig(k=10), catalog=engine.catalog_maps)  # fmt: skip


def preferences_overhead(engine: Engine, picks: list[str]) -> dict[str, Any]:
    """Paired timings of recommend with and without preferences, alternating which goes first."""
    with_p, without, diffs = [], [], []
    for i, user in enumerate(picks):
        pair = [lambda u, j: engine.recommend(u, 10), lambda u, j: recommend_without_preferences(engine, u)]
        first, second = (0, 1) if i % 2 == 0 else (1, 0)
        times = {first: timed(pair[first], user, i), second: timed(pair[second], user, i)}
        with_p.append(times[0])
        without.append(times[1])
        diffs.append(times[0] - times[1])
    return {
        "recommend_with_preferences": percentiles(with_p),
        "recommend_without_preferences": percentiles(without),
        "median_added_ms": round(float(np.median(diffs)) * 1000, 3),
        "mean_added_ms": round(float(np.mean(diffs)) * 1000, 3),
        "target_added_ms": 1.0,
    }


def timed(fn: Callable[[str, int], Any], user: str, i: int) -> float:
    t = time.perf_counter()
    fn(user, i)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=None, help="Reuse (or build into) this store directory")
    parser.add_argument("--calls", type=int, default=100, help="Calls per operation and mode")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3, help="LSTM epochs when building")
    parser.add_argument("--fake-embeddings", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="Time only these operations")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--statements", type=int, default=4, help="Stated preferences per user (0: none)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    root = args.store or Path(tmp.name) / "store"
    embeddings: Any = None
    if args.fake_embeddings:
        from langchain_core.embeddings import DeterministicFakeEmbedding

        embeddings = DeterministicFakeEmbedding(size=384)
    engine = Engine(Settings(store_path=root), embeddings=embeddings)
    build_s = None
    if not (root / state.STATE).exists():
        t = time.perf_counter()
        engine.build(load_movielens_small(), BuildConfig(forecast=ForecastConfig(epochs=args.epochs)))
        build_s = round(time.perf_counter() - t, 1)
    rng = np.random.default_rng(0)
    users = engine.users()
    VEC.extend(rng.standard_normal((16, engine.store.dimension or 384)).astype(np.float32))
    n_statements = write_statements(engine, args.statements) if args.statements else 0
    ops = operations(engine)
    if args.fake_embeddings:
        from interest_tools.store import SentenceTransformerEmbeddings

        real = SentenceTransformerEmbeddings()
        ops["peer_real_embed_query"] = lambda u, i: real.embed_query(QUERIES[i % len(QUERIES)])
    if args.only:
        ops = {k: v for k, v in ops.items() if k in args.only}
    picks = [users[j] for j in rng.integers(0, len(users), args.calls)]
    t = time.perf_counter()
    for fn in ops.values():  # warm-up: load data, models, caches
        fn(users[0], 0)
    warmup_s = round(time.perf_counter() - t, 2)
    overhead = preferences_overhead(engine, picks) if "recommend" in ops else None
    print("preferences_overhead", overhead, flush=True)
    sequential: dict[str, Any] = {}
    concurrent: dict[str, Any] = {}
    for name, fn in ops.items():
        sequential[name] = percentiles([timed(fn, u, i) for i, u in enumerate(picks)])
        with ThreadPoolExecutor(args.threads) as pool:
            t = time.perf_counter()
            samples = list(pool.map(lambda a, f=fn: timed(f, a[1], a[0]), enumerate(picks)))
            wall = time.perf_counter() - t
        concurrent[name] = {**percentiles(samples), "throughput_per_s": round(len(picks) / wall, 1)}
        print(name, sequential[name], concurrent[name], flush=True)
    emit(
        {
            "benchmark": "tools",
            "machine": machine(),
            "users": len(users),
            "embeddings": "DeterministicFakeEmbedding(384)" if args.fake_embeddings else "all-MiniLM-L6-v2",
            "build_s": build_s,
            "warmup_s": warmup_s,
            "threads": args.threads,
            "statements": n_statements,
            "preferences_overhead": overhead,
            "sequential": sequential,
            "concurrent": concurrent,
            "target_p95_ms": {"recommend": 50, "explain": 50},
            "meets_target_sequential": {
                k: sequential[k]["p95_ms"] <= 50 for k in ("recommend", "explain") if k in sequential
            },
            "peak_rss_mib": peak_rss_mib(),
        },
        args.out,
        "tools.json",
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
