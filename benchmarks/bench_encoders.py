"""Faster encoders of the same model (all-MiniLM-L6-v2) against torch fp32, on the 9,742 bundled items.

Each candidate encodes the same item texts; agreement with the torch fp32 vectors is the mean (and minimum)
cosine, and retrieval is the mean nearest-neighbour overlap@10 (each item's 10 nearest items, itself
excluded). A candidate passes with mean cosine >= 0.99 and overlap@10 >= 0.9. Speed is the ratio to torch
fp32 timed in the same run (the reference is timed twice, first and last, to bracket machine noise).

Usage: python benchmarks/bench_encoders.py [--limit N] [--candidates torch-b256 torch-int8 onnx ...]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from _common import emit, machine

from interest_tools.datasets import load_movielens_small
from interest_tools.embed import EmbedConfig, SentenceTransformerEmbeddings, item_text

MIN_COSINE, MIN_OVERLAP = 0.99, 0.9


def knn(vectors: np.ndarray, k: int = 10, block: int = 2048) -> np.ndarray:
    """Indices of each row's k nearest rows by cosine (self excluded)."""
    out = np.empty((len(vectors), k), dtype=np.int64)
    for lo in range(0, len(vectors), block):
        sims = vectors[lo : lo + block] @ vectors.T
        sims[np.arange(len(sims)), np.arange(lo, lo + len(sims))] = -np.inf
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        out[lo : lo + block] = top
    return out


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_i & b_i| / k over rows."""
    return float(np.mean([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a.tolist(), b.tolist(), strict=True)]))


def openvino_encoder(texts: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    """OpenVINO on the exported ONNX graph (trial only; reuses the onnx backend's tokenizer and pooling)."""
    import openvino as ov

    emb = SentenceTransformerEmbeddings(EmbedConfig(backend="onnx"))
    enc = emb.model
    onnx_path = str(enc.file)
    compiled = ov.Core().compile_model(ov.Core().read_model(onnx_path), "CPU")

    class _Session:
        def run(self, _names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
            return [compiled(feed)[0]]

    enc.session = _Session()
    t = time.perf_counter()
    vectors = enc.encode(texts, batch_size=batch_size)
    return time.perf_counter() - t, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N items (default: all 9,742)")
    parser.add_argument(
        "--candidates", nargs="+", default=["torch-b16", "torch-b256", "torch-int8", "onnx", "onnx-int8", "openvino"]
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    items = load_movielens_small().items
    texts = [
        item_text(t, c, d) for t, c, d in zip(items["title"], items["categories"], items["description"], strict=True)
    ]
    texts = texts[: args.limit] if args.limit else texts

    def run(backend: str, batch: int) -> tuple[float, float, np.ndarray]:
        emb = SentenceTransformerEmbeddings(EmbedConfig(backend=backend, batch_size=batch, show_progress=False))
        t = time.perf_counter()
        emb.encode(texts[:8])  # load (and export/quantise on first use); not counted
        load = time.perf_counter() - t
        t = time.perf_counter()
        vectors = emb.encode(texts)
        return load, time.perf_counter() - t, vectors

    _, ref_s, ref = run("torch", 64)
    ref_nn = knn(ref)
    plans: dict[str, Callable[[], tuple[float, float, np.ndarray]]] = {
        "torch-b16": lambda: run("torch", 16),
        "torch-b256": lambda: run("torch", 256),
        "torch-int8": lambda: run("torch-int8", 64),
        "onnx": lambda: run("onnx", 64),
        "onnx-int8": lambda: run("onnx-int8", 64),
        "openvino": lambda: (0.0, *openvino_encoder(texts, 64)),
    }
    rows: list[dict[str, Any]] = []
    for name in args.candidates:
        try:
            load, secs, vectors = plans[name]()
        except Exception as exc:  # a missing optional package is a result, not a crash
            rows.append({"candidate": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            print(rows[-1], flush=True)
            continue
        cos = np.sum(ref * vectors, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(vectors, axis=1))
        ov = overlap(ref_nn, knn(vectors))
        rows.append(
            {
                "candidate": name,
                "seconds": round(secs, 2),
                "first_use_s": round(load, 2),
                "mean_cosine": round(float(cos.mean()), 5),
                "min_cosine": round(float(cos.min()), 5),
                "overlap_at_10": round(ov, 4),
                "passes": bool(cos.mean() >= MIN_COSINE and ov >= MIN_OVERLAP),
            }
        )
        print(rows[-1], flush=True)
    _, ref2_s, _ = run("torch", 64)
    ref_mean = (ref_s + ref2_s) / 2
    for row in rows:
        if "seconds" in row:
            row["speedup_vs_torch_fp32"] = round(ref_mean / row["seconds"], 2)
    emit(
        {
            "benchmark": "encoders",
            "machine": machine(),
            "texts": len(texts),
            "reference": {
                "candidate": "torch fp32, batch 64",
                "seconds_first_last": [round(ref_s, 2), round(ref2_s, 2)],
            },
            "bar": {"mean_cosine": MIN_COSINE, "overlap_at_10": MIN_OVERLAP},
            "candidates": rows,
        },
        args.out,
        "encoders.json",
    )


if __name__ == "__main__":
    main()
