"""Time windowing on synthetic logs of 100k, 1M and 10M events; print events/s as JSON.

Usage: python benchmarks/bench_windows.py [--sizes 100000 1000000 10000000] [--out benchmarks/results/windows.json]
The events are canonical frames (string ids, UTC timestamps), as the loaders produce them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from interest_tools.windows import WindowConfig, compute_windows

GENRES = [f"genre{i}" for i in range(20)]


def synthetic(n_events: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A log with n_events events, n/100 users, n/50 (capped at 200k) items of 1-3 genres over 10 years."""
    rng = np.random.default_rng(seed)
    n_users = max(10, n_events // 100)
    n_items = min(200_000, max(100, n_events // 50))
    item_ids = np.array([str(i) for i in range(n_items)], dtype=object)
    cats = [list(rng.choice(GENRES, size=rng.integers(1, 4), replace=False)) for _ in range(n_items)]
    items = pd.DataFrame({"item_id": item_ids, "title": item_ids, "categories": cats, "description": ""})
    user_ids = np.array([str(u) for u in range(n_users)], dtype=object)
    t0 = pd.Timestamp("2010-01-01", tz="UTC").value
    ts = t0 + rng.integers(0, 10 * 365 * 86400, size=n_events).astype(np.int64) * 10**9
    events = pd.DataFrame(
        {
            "user_id": pd.array(user_ids[rng.integers(0, n_users, n_events)], dtype="str"),
            "item_id": pd.array(item_ids[rng.zipf(1.3, n_events) % n_items], dtype="str"),
            "timestamp": pd.to_datetime(ts, utc=True),
            "rating": rng.integers(1, 11, n_events) / 2.0,
            "weight": 1.0,
        }
    )
    return events, items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        events, items = synthetic(n)
        row: dict[str, object] = {"events": n, "users": int(events["user_id"].nunique())}
        for name, config in {
            "month": WindowConfig(freq="month"),
            "every_20_events": WindowConfig(every_n_events=20),
            "session_30m": WindowConfig(session_gap="PT30M"),
        }.items():
            best = float("inf")
            for _ in range(args.repeats if n < 10_000_000 else 1):
                t = time.perf_counter()
                table = compute_windows(events, items, config)
                best = min(best, time.perf_counter() - t)
            row[name] = {"seconds": round(best, 3), "events_per_s": round(n / best), "windows": len(table)}
        results.append(row)
        print(json.dumps(row), flush=True)
    base = results[0]["month"]["seconds"] / results[0]["events"]  # type: ignore[index]
    out = {
        "benchmark": "windows",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "results": results,
        "growth_vs_linear_month": [
            round(r["month"]["seconds"] / (base * r["events"]), 2)
            for r in results  # type: ignore[index]
        ],
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
