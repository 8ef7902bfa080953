"""Whole ``build`` of the bundled MovieLens dataset against its floor: a bare sentence-transformers encode.

The floor is the issue's definition: torch, what sentence-transformers does by default. When the build uses
a faster engine for the same weights (the default ``backend="auto"`` picks OpenVINO), the same texts are also
encoded by that engine alone, so the pipeline's own overhead shows beside the torch floor.

The build (windows, template summaries, item + summary embeddings, a persistent Chroma store in a temp dir,
LSTM training) runs through :class:`interest_tools.engine.Engine`. The floor is a bare
``SentenceTransformer.encode`` of exactly the same texts (read back from the store after the build), timed
twice in the same process right after the build (the floor is the mean of the two).

A second ``build`` of the same data into the same store follows (``rebuild``): nothing changed, so it must keep
the embeddings and the forecaster (its training fingerprint matches); ``rebuild_ratio`` is its time over the
first build's (issue 14: at most 0.10).

Usage: python benchmarks/bench_build.py [--epochs N] [--backend auto|torch|onnx|openvino|...] [--no-floor]
[--out PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import emit, machine, peak_rss_mib

from interest_tools.datasets import load_movielens_small
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings
from interest_tools.store import EmbedConfig, SentenceTransformerEmbeddings, resolve_model_path


def bare_encode(texts: list[str], batch_size: int) -> dict[str, float]:
    """Load the model and encode the texts with nothing else around it; return the two times."""
    from sentence_transformers import SentenceTransformer

    t = time.perf_counter()
    model = SentenceTransformer(resolve_model_path(EmbedConfig().model_name), device="cpu")
    load = time.perf_counter() - t
    t = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return {"load_s": load, "encode_s": time.perf_counter() - t}


def stored_texts(engine: Engine) -> tuple[list[str], list[str]]:
    """The item and summary texts the build embedded, read back from the store."""
    store = engine.store
    items = store.records("items")["documents"]
    windows = store.records("windows")["documents"]
    return list(items), list(windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=ForecastConfig().epochs, help="LSTM epochs (config default)")
    parser.add_argument("--backend", default=None, help="EmbedConfig.backend to build with (default: the config's)")
    parser.add_argument("--batch-size", type=int, default=EmbedConfig().batch_size)
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-encoder floor (build and rebuild only)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    dataset = load_movielens_small()
    result: dict[str, Any] = {"benchmark": "build", "machine": machine(), "dataset": dataset.name}
    overrides: dict[str, Any] = {"batch_size": args.batch_size}
    if args.backend:
        overrides["backend"] = args.backend
    embeddings = SentenceTransformerEmbeddings(EmbedConfig(**overrides))
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Settings(store_path=Path(tmp) / "store"), embeddings=embeddings)
        # Floor before the build needs the texts; a throw-away build without training would embed twice,
        # so the floor runs after the build and once more at the end; the mean is used.
        t = time.perf_counter()
        config = BuildConfig(forecast=ForecastConfig(epochs=args.epochs))
        report = engine.build(dataset, config)
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        again = engine.build(dataset, config)
        rebuild_s = time.perf_counter() - t
        item_texts, window_texts = stored_texts(engine)
        texts = item_texts + window_texts
        forecaster = engine.forecaster
        trained = {
            "stop_reason": forecaster.stop_reason,
            "best_epoch": forecaster.best_epoch,
            "epochs_run": len(forecaster.training_log),
            "serving_model": forecaster.serving_model,
            "train_s": report.seconds.get("forecaster"),
        }
        engine.store.close()
    result["rebuild"] = {
        "total_s": round(rebuild_s, 2),
        "stages_s": again.seconds,
        "rebuild_ratio": round(rebuild_s / build_s, 4),
        "target_ratio": 0.10,
    }
    floors = [] if args.no_floor else [bare_encode(texts, args.batch_size) for _ in range(2)]
    floor = sum(f["encode_s"] for f in floors) / len(floors) if floors else float("nan")
    used = embeddings.backend_used or "torch"
    same: dict[str, Any] | None = None
    if used != "torch" and floors:  # the encoder the build used, alone on the same texts: the pipeline's overhead
        engine_alone = SentenceTransformerEmbeddings(EmbedConfig(**{**overrides, "backend": used}))
        engine_alone.encode(texts[:8])  # load (and export once) before timing
        runs = []
        for _ in range(2):
            t = time.perf_counter()
            engine_alone.encode(texts, show_progress=False)
            runs.append(time.perf_counter() - t)
        same = {"backend": used, "encode_s_each": [round(r, 2) for r in runs], "encode_s": round(sum(runs) / 2, 2)}
    forecaster_s = report.seconds.get("forecaster", 0.0)
    result.update(
        {
            "epochs": args.epochs,
            "backend": embeddings.config.backend,
            "backend_used": used,
            "batch_size": args.batch_size,
            "texts": {"items": len(item_texts), "summaries": len(window_texts), "total": len(texts)},
            "build": {
                "total_s": round(build_s, 2),
                "stages_s": report.seconds,
                "other_s": round(build_s - sum(report.seconds.values()), 2),
                "excluding_forecaster_s": round(build_s - forecaster_s, 2),
            },
            "forecaster": trained,
            "floor": {
                "encode_s_each": [round(f["encode_s"], 2) for f in floors],
                "encode_s": round(floor, 2),
                "model_load_s": round(min(f["load_s"] for f in floors), 2),
                "texts_per_s": round(len(texts) / floor, 1),
            }
            if floors
            else None,
            "ratio_excluding_forecaster": round((build_s - forecaster_s) / floor, 3) if floors else None,
            "ratio_including_forecaster": round(build_s / floor, 3) if floors else None,
            "floor_same_encoder": same,
            "ratio_excluding_forecaster_vs_same_encoder": (
                round((build_s - forecaster_s) / same["encode_s"], 3) if same else None
            ),
            "target_ratio": 1.25,
            "peak_rss_mib": peak_rss_mib(),
        }
    )
    emit(result, args.out, "build.json" if not args.backend else f"build_{args.backend}.json")


if __name__ == "__main__":
    main()
