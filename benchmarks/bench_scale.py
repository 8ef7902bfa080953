"""Scale curve: windowing, forecaster training and recommending on synthetic logs of 100k to 20M events.

Synthetic logs (``bench_windows.synthetic``): n/100 users, n/50 items (capped at 200k), 1-3 of 20 genres per item,
10 years, in the loaders' canonical order. Item vectors are seeded random unit vectors of dimension 384 (the
real model's): embedding 200k item texts with the real model would take hours on 2 cores, and the costs measured
here depend on the dimension and the counts, not on the values.

Each (size, part) runs in its own child process, one after another, so that each part's peak memory is its own;
within a child, each phase's resident peak is read on its own too (``_scale_common.Phase``). Every child
regenerates the log (``generate_s``). Parts:

* ``window``: ``compute_windows`` with the monthly cut (the stored cut).
* ``train`` (``scale_train``): the real ``train_forecaster`` with ``ForecastConfig()`` defaults on ``events-1``
  windows, stopped after ``--train-steps`` optimizer steps or ``--train-budget`` seconds; the measured throughput
  gives ``epoch_s_estimated`` (steps per epoch x measured step time + the validation pass, timed on a sample of
  users). At the sizes in ``--full-epoch-sizes`` (100k) one real epoch also runs to check the estimate.
* ``store`` (``scale_recommend``): a persistent Chroma item store filled with every item (insert seconds); the
  10M and 20M logs share one 200k-item catalog, so 20M reuses the store built at 10M (and only checks it).
* ``recommend`` (``scale_recommend``): warm ``Engine.recommend`` latency for ``--users`` sampled users on an
  engine holding that size's data over that store, with a breakdown (LSTM pass, user events, a bare Chroma
  query) and a variant at torch's default thread count.

Torch runs with ``--torch-threads`` (default 1) intra-op threads: on this shared 2-core machine (1-minute load
3-4 from other jobs), training steps with 2 threads varied 0.30-1.9 s between back-to-back runs at 100k, with 1
thread 0.38-0.43 s; the figures are per core and reproducible. Recommend is also timed with the process at
torch's default thread count (``recommend_torch_<n>_threads``; the engine limits its small work to one thread).
``--train-negatives N`` measures the sampled-softmax variant (``ForecastConfig(negatives=N)``) instead.

A memory guard stops a child whose resident memory passes ``--max-rss-mib`` (the machine is shared); the part
is then recorded with the reason instead of figures. The 1-minute load average at the start and end of each
part is recorded (other jobs share the 2 cores: prefer CPU seconds and ratios).

Usage: python benchmarks/bench_scale.py [--sizes 100000 1000000 10000000 20000000]
       [--parts window train store recommend] [--update] [--store-root DIR]
       [--train-steps 30] [--train-budget 90] [--train-negatives N] [--full-epoch-sizes 100000]
       [--users 50] [--max-rss-mib 16384] [--torch-threads 1] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import RESULTS, emit, machine
from _scale_common import MemoryGuard, Phase, load_avg, peak_mib

HERE = Path(__file__).resolve().parent
PARTS = ("window", "train", "store", "recommend")


def window_part(n: int) -> dict[str, Any]:
    """Run in the child: generate, window (monthly), report times and peak memory."""
    from bench_windows import synthetic

    from interest_tools.windows import WindowConfig, compute_windows

    out: dict[str, Any] = {"events": n}
    with Phase("generate", out):
        events, items = synthetic(n)
    with Phase("window", out):
        table = compute_windows(events, items, WindowConfig(freq="month"))
    out.update(
        users=int(events["user_id"].nunique()),
        items=len(items),
        windows=len(table),
        events_per_s=round(n / out["window_s"]),
        events_per_cpu_s=round(n / out["window_cpu_s"]),
        frame_mib=round(events.memory_usage(deep=True).sum() / 2**20, 1),
    )
    out["process_peak_rss_mib"] = max([peak_mib()] + [v for k, v in out.items() if k.endswith("_peak_rss_mib")])
    return out


def child(n: int, part: str, args: argparse.Namespace) -> dict[str, Any]:
    """One part at one size, in this (child) process."""
    guard = MemoryGuard(args.max_rss_mib, f"{part} at {n:,} events")
    guard.stage = part
    start = load_avg()
    import torch

    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.torch_threads)
    if part == "window":
        out = window_part(n)
    elif part == "train":
        from scale_train import train_part

        full = n in args.full_epoch_sizes
        out = train_part(n, args.train_steps, args.train_budget, full, args.torch_threads, args.train_negatives)
    elif part == "store":
        from scale_recommend import store_part

        out = store_part(n, args.store_root)
    else:
        from scale_recommend import recommend_part

        out = recommend_part(n, args.store_root, args.users, other_threads=default_threads)
    out.update(part=part, torch_threads=args.torch_threads, load_avg_1m_start=start, load_avg_1m_end=load_avg())
    out["code"] = code_version()
    return out


def code_version() -> str:
    """The commit measured, with ``+dirty`` when interest_tools/ has uncommitted changes (others edit it live)."""
    root = HERE.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "interest_tools"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def run_child(n: int, part: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one part in a fresh process; its last stdout line is its JSON result (or the guard's error)."""
    cmd = [sys.executable, str(HERE / "bench_scale.py"), "--child", str(n), "--parts", part]
    cmd += ["--train-steps", str(args.train_steps), "--train-budget", str(args.train_budget)]
    cmd += ["--users", str(args.users), "--max-rss-mib", str(args.max_rss_mib)]
    cmd += ["--torch-threads", str(args.torch_threads)]
    if args.train_negatives is not None:
        cmd += ["--train-negatives", str(args.train_negatives)]
    cmd += ["--full-epoch-sizes", *map(str, args.full_epoch_sizes), "--store-root", str(args.store_root)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=args.part_timeout)
    except subprocess.TimeoutExpired:
        return {"events": n, "part": part, "error": f"did not finish within {args.part_timeout} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        row = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        row = {}
    if proc.returncode != 0 and "error" not in row:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        row = {"error": tail[0]}
    row.setdefault("events", n)
    row.setdefault("part", part)
    row["child_wall_s"] = round(time.perf_counter() - started, 1)
    return row


def growth(rows: list[dict[str, Any]], key: str) -> None:
    """Add ``growth_vs_linear_<key>``: cost per event relative to the smallest size measured."""
    ok = [r for r in rows if isinstance(r.get(key), int | float)]
    if not ok:
        return
    base = ok[0][key] / ok[0]["events"]
    for r in ok:
        r[f"growth_vs_linear_{key}"] = round(r[key] / (base * r["events"]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000, 20_000_000])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--train-steps", type=int, default=30, help="optimizer steps measured per size (cap)")
    parser.add_argument("--train-budget", type=float, default=90.0, help="seconds of warm steps per size (cap)")
    parser.add_argument(
        "--train-negatives", type=int, default=None, help="variant: sampled softmax (ForecastConfig.negatives)"
    )
    parser.add_argument("--full-epoch-sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--users", type=int, default=50, help="users sampled for recommend latency")
    parser.add_argument("--max-rss-mib", type=float, default=16_384.0)
    parser.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads in every part")
    parser.add_argument("--part-timeout", type=int, default=1800)
    parser.add_argument("--store-root", type=Path, default=None, help="where item stores go (default: a temp dir)")
    parser.add_argument("--update", action="store_true", help="replace only the parts and sizes run here in --out")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.parts[0], args)), flush=True)
        return
    results: dict[str, list[dict[str, Any]]] = {p: [] for p in args.parts}
    keep = args.store_root is not None
    args.store_root = args.store_root or Path(tempfile.mkdtemp(prefix="scale_stores_"))
    try:
        for n in args.sizes:
            for part in args.parts:
                row = run_child(n, part, args)
                results[part].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        if not keep:
            shutil.rmtree(args.store_root, ignore_errors=True)
    result: dict[str, Any] = {
        "benchmark": "scale",
        "machine": machine(),
        "data": "bench_windows.synthetic: n/100 users, n/50 items (<= 200k), 1-3 of 20 genres, 10 years",
        "item_vectors": "seeded random unit float32, dim 384 (not the real model: see the docstring)",
        "settings": {k: v for k, v in vars(args).items() if k not in ("child", "out", "store_root", "update")},
        "results": results,
    }
    if args.update:
        result = merged(result, args.out or RESULTS / "scale.json")
    for part, key in (("window", "window_cpu_s"), ("train", "epoch_s_estimated")):
        growth(result["results"].get(part, []), key)
    emit(result, args.out, "scale.json")


def merged(new: dict[str, Any], path: Path) -> dict[str, Any]:
    """The results file at ``path`` with the (part, size) rows of ``new`` replacing its own (``--update``)."""
    if not path.exists():
        return new
    old = json.loads(path.read_text())
    for part, rows in new["results"].items():
        sizes = {r["events"] for r in rows}
        kept = [r for r in old["results"].get(part, []) if r["events"] not in sizes]
        old["results"][part] = sorted(kept + rows, key=lambda r: r["events"])
    update = {
        "parts": list(new["results"]),
        "sizes": sorted({r["events"] for rs in new["results"].values() for r in rs}),
    }
    old.setdefault("updates", []).append({**update, "machine": new["machine"], "settings": new["settings"]})
    return old


if __name__ == "__main__":
    main()
