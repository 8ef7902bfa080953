"""Time windowing on synthetic logs of 100k, 1M and 10M events; print events/s as JSON.

Usage: python benchmarks/bench_windows.py [--sizes 100000 1000000 10000000] [--repeats 3]
       [--order canonical|random] [--out benchmarks/results/windows.json]

The events are canonical frames (string ids, UTC timestamps), by default also in the loaders' order (sorted
by user, timestamp, item); ``--order random`` shuffles them (compute_windows accepts any order). Wall and CPU
seconds are both reported: on a shared machine CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import emit, machine, peak_rss_mib

from interest_tools.windows import WindowConfig, compute_windows

GENRES = [f"genre{i}" for i in range(20)]


def synthetic(n_events: int, seed: int = 0, order: str = "canonical") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A log with n_events events, n/100 users, n/50 (capped at 200k) items of 1-3 genres over 10 years.

    Ids are zero-padded so that their string order is their numeric order; ``order="canonical"`` sorts the
    events by user, timestamp, item as the loaders do, ``"random"`` leaves them shuffled.
    """
    rng = np.random.default_rng(seed)
    n_users = max(10, n_events // 100)
    n_items = min(200_000, max(100, n_events // 50))
    item_ids = np.array([f"i{i:06d}" for i in range(n_items)], dtype=object)
    cats = [list(rng.choice(GENRES, size=rng.integers(1, 4), replace=False)) for _ in range(n_items)]
    items = pd.DataFrame({"item_id": item_ids, "title": item_ids, "categories": cats, "description": ""})
    user_ids = np.array([f"u{u:08d}" for u in range(n_users)], dtype=object)
    t0 = pd.Timestamp("2010-01-01", tz="UTC").value
    ts = t0 + rng.integers(0, 10 * 365 * 86400, size=n_events).astype(np.int64) * 10**9
    users = rng.integers(0, n_users, n_events)
    item = rng.zipf(1.3, n_events) % n_items
    rating = rng.integers(1, 11, n_events) / 2.0
    if order == "canonical":
        idx = np.lexsort((item, ts, users))
        users, ts, item, rating = users[idx], ts[idx], item[idx], rating[idx]
    events = pd.DataFrame(
        {
            "user_id": pd.array(user_ids[users], dtype="str"),
            "item_id": pd.array(item_ids[item], dtype="str"),
            "timestamp": pd.to_datetime(ts, utc=True),
            "rating": rating,
            "weight": 1.0,
        }
    )
    return events, items


def time_windows(events: pd.DataFrame, items: pd.DataFrame, config: WindowConfig, repeats: int) -> dict[str, Any]:
    """Best-of-``repeats`` wall and CPU seconds of compute_windows."""
    best_wall = best_cpu = float("inf")
    n_windows = 0
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        n_windows = len(compute_windows(events, items, config))
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    n = len(events)
    return {
        "seconds": round(best_wall, 3),
        "cpu_seconds": round(best_cpu, 3),
        "events_per_s": round(n / best_wall),
        "events_per_cpu_s": round(n / best_cpu),
        "windows": n_windows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--order", choices=["canonical", "random"], default="canonical")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for n in args.sizes:
        events, items = synthetic(n, order=args.order)
        row: dict[str, Any] = {"events": n, "users": int(events["user_id"].nunique())}
        for name, config in {
            "month": WindowConfig(freq="month"),
            "every_20_events": WindowConfig(every_n_events=20),
            "session_30m": WindowConfig(session_gap="PT30M"),
        }.items():
            row[name] = time_windows(events, items, config, args.repeats if n < 10_000_000 else 1)
        results.append(row)
        print(row, flush=True)
    base = results[0]["month"]["cpu_seconds"] / results[0]["events"]
    emit(
        {
            "benchmark": "windows",
            "machine": machine(),
            "order": args.order,
            "results": results,
            "growth_vs_linear_month_cpu": [round(r["month"]["cpu_seconds"] / (base * r["events"]), 2) for r in results],
            "peak_rss_mib": peak_rss_mib(),
        },
        args.out,
        "windows.json",
    )


if __name__ == "__main__":
    main()
