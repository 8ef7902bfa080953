"""``build --engine ray`` against the local engine on the bundled MovieLens data, and the two stores compared.

Both builds run in this process, one after the other, with the real all-MiniLM-L6-v2 model, template summaries
and a persistent Chroma store each in its own temp dir, without forecaster training (it runs on the driver in
both engines, so it adds the same seconds to each). The Ray build starts a local Ray (all cores of this
machine, one actor per core, one torch thread per actor) and stops it; that start-up is part of its time.

Afterwards the stores are compared record by record: ids, documents and metadata must be equal and vectors
agree to float rounding (max |difference| and min cosine are reported).

Usage: python benchmarks/bench_ray.py [--users N] [--out PATH]
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
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings


def contents(engine: Engine) -> dict[str, dict[str, tuple[Any, Any, np.ndarray]]]:
    """Every record of both collections: id -> (document, metadata, vector)."""
    out = {}
    for which in ("items", "windows"):
        got = engine.store.records(which)
        out[which] = {
            rid: (doc, meta, np.asarray(vec, dtype=np.float32))
            for rid, doc, meta, vec in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
        }
    return out


def compare(a: Engine, b: Engine) -> dict[str, Any]:
    """How far the two stores are apart (0 differences expected; vectors to float rounding)."""
    ca, cb = contents(a), contents(b)
    report: dict[str, Any] = {}
    for which in ("items", "windows"):
        ids_equal = sorted(ca[which]) == sorted(cb[which])
        shared = [rid for rid in ca[which] if rid in cb[which]]
        docs = sum(ca[which][r][0] != cb[which][r][0] for r in shared)
        metas = sum(ca[which][r][1] != cb[which][r][1] for r in shared)
        diff = max((float(np.abs(ca[which][r][2] - cb[which][r][2]).max()) for r in shared), default=0.0)
        cos = min((float(ca[which][r][2] @ cb[which][r][2]) for r in shared), default=1.0)
        report[which] = {
            "records": len(ca[which]),
            "ids_equal": ids_equal,
            "documents_differing": int(docs),
            "metadata_differing": int(metas),
            "max_abs_vector_difference": diff,
            "min_cosine": round(cos, 7),
        }
    report["summaries_equal"] = bool(a.summaries.equals(b.summaries))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=None, help="Only the first N users (default: all 610).")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    info = machine()
    data = load_movielens_small()
    if args.users:
        users = sorted(data.events["user_id"].unique())[: args.users]
        events = data.events[data.events["user_id"].isin(users)].reset_index(drop=True)
        items = data.items[data.items["item_id"].isin(events["item_id"])].reset_index(drop=True)
        data = Dataset(events=events, items=items, name=f"movielens-small[:{args.users}]")
    config = BuildConfig(train_forecaster=False)
    runs: dict[str, dict[str, Any]] = {}
    engines: dict[str, Engine] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("local", "ray"):
            engine = Engine(Settings(store_path=Path(tmp) / kind))
            t = time.perf_counter()
            report = engine.build(data, config.model_copy(update={"engine": kind}))
            runs[kind] = {"seconds": round(time.perf_counter() - t, 2), "stages": report.seconds,
                          "items_embedded": report.items_embedded, "windows_embedded": report.windows_embedded}  # fmt: skip
            engines[kind] = engine
        same = compare(engines["local"], engines["ray"])
    result = {
        "benchmark": "ray",
        "machine": info,
        "dataset": data.name,
        "events": len(data.events),
        "users": int(data.events["user_id"].nunique()),
        "items": len(data.items),
        "local": runs["local"],
        "ray": runs["ray"],
        "ray_over_local": round(runs["ray"]["seconds"] / runs["local"]["seconds"], 3),
        "stores": same,
        "peak_rss_mib_driver": peak_rss_mib(),
    }
    emit(result, args.out, "ray.json")


if __name__ == "__main__":
    main()
