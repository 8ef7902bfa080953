"""Faster encoders of the same model (all-MiniLM-L6-v2) against torch fp32, on the 9,742 bundled items.

Each candidate encodes the same item texts; agreement with the torch fp32 vectors is the mean (and minimum)
cosine, and retrieval is the mean nearest-neighbour overlap@10 (each item's 10 nearest items, itself
excluded). A candidate passes with mean cosine >= 0.99 and overlap@10 >= 0.9. The torch fp32 reference is
encoded here, or read from ``--reference`` (a .npy of the same texts, same order) to save time. Speed is
timed on the first ``--speed-texts`` texts for every candidate and torch fp32 alike, in the same run (torch
first and last, to bracket machine noise), in wall and CPU seconds; CPU is steadier on a shared machine.

Usage: python benchmarks/bench_encoders.py [--limit N] [--reference X.npy] [--speed-texts 2000]
       [--candidates torch-b16 torch-b256 torch-int8 onnx onnx-int8 openvino]
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
from interest_tools.store import EmbedConfig, SentenceTransformerEmbeddings, item_text

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


class _OpenVinoSession:
    """onnxruntime-like ``run`` over an OpenVINO compiled model (trial only; not a project dependency)."""

    def __init__(self, onnx_path: str) -> None:
        import openvino as ov

        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(onnx_path), "CPU")

    def run(self, _names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.compiled(feed)[0]]


def encoder(name: str) -> tuple[Callable[[list[str]], np.ndarray], float]:
    """A warm encode function for a candidate, and the seconds its first use took (load, export, quantise)."""
    batch = {"torch-b16": 16, "torch-b256": 256}.get(name, 64)
    backend = {"torch-b16": "torch", "torch-b256": "torch", "openvino": "onnx"}.get(name, name)
    emb = SentenceTransformerEmbeddings(EmbedConfig(backend=backend, batch_size=batch, show_progress=False))
    t = time.perf_counter()
    emb.encode(["warm up"])
    if name == "openvino":
        emb.model.session = _OpenVinoSession(str(emb.model.file))
        emb.encode(["warm up"])
    return emb.encode, time.perf_counter() - t


def timed(fn: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, float, np.ndarray]:
    """Wall seconds, CPU seconds and the vectors."""
    t, c = time.perf_counter(), time.process_time()
    vectors = fn(texts)
    return time.perf_counter() - t, time.process_time() - c, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N items (default: all 9,742)")
    parser.add_argument("--reference", type=Path, default=None, help="torch fp32 vectors of the same texts (.npy)")
    parser.add_argument("--speed-texts", type=int, default=2000)
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
    speed_texts = texts[: args.speed_texts]
    torch_fn, _ = encoder("torch")
    ref_wall, ref_cpu, _ = timed(torch_fn, speed_texts)
    if args.reference is not None:
        ref = np.load(args.reference)[: len(texts)].astype(np.float32)
        reference_source = str(args.reference)
    else:
        ref = timed(torch_fn, texts)[2]
        reference_source = "encoded in this run"
    ref_nn = knn(ref)
    rows: list[dict[str, Any]] = []
    for name in args.candidates:
        try:
            fn, first_use = encoder(name)
            wall, cpu, _ = timed(fn, speed_texts)
            vectors = fn(texts) if name not in ("torch-b16", "torch-b256") or len(texts) <= len(speed_texts) else None
        except Exception as exc:  # a missing optional package is a result, not a crash
            rows.append({"candidate": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            print(rows[-1], flush=True)
            continue
        row: dict[str, Any] = {"candidate": name, "speed_wall_s": round(wall, 2), "speed_cpu_s": round(cpu, 2)}
        row["first_use_s"] = round(first_use, 2)
        if vectors is not None:
            cos = np.sum(ref * vectors, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(vectors, axis=1))
            ov = overlap(ref_nn, knn(vectors))
            row.update(
                {
                    "mean_cosine": round(float(cos.mean()), 5),
                    "min_cosine": round(float(cos.min()), 5),
                    "overlap_at_10": round(ov, 4),
                    "passes": bool(cos.mean() >= MIN_COSINE and ov >= MIN_OVERLAP),
                }
            )
        else:
            row["agreement"] = "same torch fp32 computation, only batching differs (not re-encoded)"
        rows.append(row)
        print(rows[-1], flush=True)
    ref2_wall, ref2_cpu, _ = timed(torch_fn, speed_texts)
    ref_wall_mean, ref_cpu_mean = (ref_wall + ref2_wall) / 2, (ref_cpu + ref2_cpu) / 2
    for row in rows:
        if "speed_cpu_s" in row:
            row["speedup_cpu_vs_torch_fp32"] = round(ref_cpu_mean / row["speed_cpu_s"], 2)
            row["speedup_wall_vs_torch_fp32"] = round(ref_wall_mean / row["speed_wall_s"], 2)
    emit(
        {
            "benchmark": "encoders",
            "machine": machine(),
            "texts_agreement": len(texts),
            "texts_speed": len(speed_texts),
            "reference": {
                "candidate": "torch fp32, batch 64",
                "vectors": reference_source,
                "speed_wall_s_first_last": [round(ref_wall, 2), round(ref2_wall, 2)],
                "speed_cpu_s_first_last": [round(ref_cpu, 2), round(ref2_cpu, 2)],
            },
            "bar": {"mean_cosine": MIN_COSINE, "overlap_at_10": MIN_OVERLAP},
            "candidates": rows,
        },
        args.out,
        "encoders.json",
    )


if __name__ == "__main__":
    main()
