"""Incremental ingest against a full build: append 1% new events with ``Engine.ingest``.

The bundled dataset is built from 99% of its events; then the held-out 1% is ingested: by default the newest
1% (an append), or with ``--pick random`` a seeded random 1% (late data inside users' histories, touching many
more users). The ratio ingest / full build is
measured in the same run (target <= 10%). The forecaster is not trained (``--epochs 0``, default) because
ingest does not retrain by default; pass ``--epochs N`` to include training in the full build.

Usage: python benchmarks/bench_ingest.py [--fraction 0.01] [--pick newest|random] [--epochs 0] [--fake-embeddings] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from _common import emit, machine, peak_rss_mib

from interest_tools.data import Dataset
from interest_tools.datasets import load_movielens_small
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings

COLUMNS = ["user_id", "item_id", "timestamp", "rating", "weight", "event", "text"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--pick", choices=["newest", "random"], default="newest")
    parser.add_argument("--epochs", type=int, default=0, help="LSTM epochs in the full build (0: no training)")
    parser.add_argument("--fake-embeddings", action="store_true", help="DeterministicFakeEmbedding (no model)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    full = load_movielens_small()
    if args.pick == "random":
        held = np.random.default_rng(0).random(len(full.events)) < args.fraction
    else:
        ts = full.events["timestamp"]
        held = (ts >= ts.quantile(1 - args.fraction)).to_numpy()
    base = Dataset(events=full.events[~held].reset_index(drop=True), items=full.items, name=full.name)
    new = full.events.loc[held, COLUMNS].reset_index(drop=True)
    embeddings: Any = None
    if args.fake_embeddings:
        from langchain_core.embeddings import DeterministicFakeEmbedding

        embeddings = DeterministicFakeEmbedding(size=384)
    config = BuildConfig(train_forecaster=args.epochs > 0, forecast=ForecastConfig(epochs=max(args.epochs, 1)))
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Settings(store_path=Path(tmp) / "store"), embeddings=embeddings)
        t = time.perf_counter()
        build = engine.build(base, config)
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        report = engine.ingest(new)
        ingest_s = time.perf_counter() - t
        engine.store.close()
    emit(
        {
            "benchmark": "ingest",
            "machine": machine(),
            "embeddings": "DeterministicFakeEmbedding" if args.fake_embeddings else "all-MiniLM-L6-v2 (torch)",
            "forecaster_trained_in_build": args.epochs > 0,
            "pick": args.pick,
            "events_built": len(base.events),
            "events_ingested": len(new),
            "users_touched": report.users_touched,
            "users_total": report.n_users,
            "windows_embedded_build": build.windows_embedded,
            "windows_embedded_ingest": report.windows_embedded,
            "build_s": round(build_s, 2),
            "build_stages_s": build.seconds,
            "ingest_s": round(ingest_s, 2),
            "ingest_fraction_of_build": round(ingest_s / build_s, 4),
            "target_fraction": 0.10,
            "peak_rss_mib": peak_rss_mib(),
        },
        args.out,
        "ingest.json",
    )


if __name__ == "__main__":
    main()
