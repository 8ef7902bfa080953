"""Scale curve of windowing: synthetic logs of 100k, 1M, 10M and 20M events, one subprocess per size.

Each size runs in a fresh process so that its peak memory (``ru_maxrss``) is its own: the generated frame plus
``compute_windows`` (monthly). Users and items scale with the log (n/100 users, n/50 items capped at 200k);
events are in the loaders' canonical order. Wall and CPU seconds are reported, with throughput and growth
against linear (CPU, relative to the smallest size).

Not covered here (see docs/performance.md): forecaster training per epoch and recommending at these sizes.

Usage: python benchmarks/bench_scale.py [--sizes 100000 1000000 10000000 20000000] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit, machine

HERE = Path(__file__).resolve().parent


def one_size(n: int) -> dict[str, Any]:
    """Run in the child: generate, window, report times and peak memory."""
    import resource

    from bench_windows import synthetic

    from interest_tools.windows import WindowConfig, compute_windows

    t = time.perf_counter()
    events, items = synthetic(n)
    gen_s = time.perf_counter() - t
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t, c = time.perf_counter(), time.process_time()
    table = compute_windows(events, items, WindowConfig(freq="month"))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "events": n,
        "users": int(events["user_id"].nunique()),
        "items": len(items),
        "windows": len(table),
        "generate_s": round(gen_s, 1),
        "window_s": round(wall, 2),
        "window_cpu_s": round(cpu, 2),
        "events_per_s": round(n / wall),
        "events_per_cpu_s": round(n / cpu),
        "peak_rss_mib_after_data": round(rss_data, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "frame_mib": round(events.memory_usage(deep=True).sum() / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000, 20_000_000])
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one_size(args.child)))
        return
    rows: list[dict[str, Any]] = []
    for n in args.sizes:
        proc = subprocess.run(
            [sys.executable, str(HERE / "bench_scale.py"), "--child", str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            rows.append({"events": n, "error": proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    ok = [r for r in rows if "window_cpu_s" in r]
    base = ok[0]["window_cpu_s"] / ok[0]["events"] if ok else 1.0
    for r in ok:
        r["growth_vs_linear_cpu"] = round(r["window_cpu_s"] / (base * r["events"]), 2)
    emit({"benchmark": "scale", "machine": machine(), "config": "month", "results": rows}, args.out, "scale.json")


if __name__ == "__main__":
    main()
