"""Scale parts "store" and "recommend": item store build time, and warm ``Engine.recommend`` latency.

``store``: a persistent Chroma store (``InterestStore``) in a temporary directory, filled by the real
``upsert_items`` with every synthetic item; the embeddings object hands it precomputed seeded random unit
vectors (384 dims, see ``_scale_common``) instead of running the model, so the time is Chroma's (records,
metadata, vector index). The 10M and 20M logs share one 200k-item catalog: the store built at 10M is reused at
20M, where ``upsert_items`` only checks it (every item unchanged, nothing inserted: ``store_check_s``).

``recommend`` opens that store; the item vectors the forecaster gets are read back from it, as a build does
(``catalog_vectors``).

The engine is the real :class:`~interest_tools.engine.Engine` over that store, but it is assembled from
in-memory parts instead of a build writing parquet files and a checkpoint: its lazily loaded attributes
(``dataset``, ``window_config``, ``windows`` (month), ``forecast_windows`` (``events-1``), ``forecaster``) are
set directly. The forecaster is an LSTM of the default shape with freshly initialised weights, installed with
``LSTMForecaster.set_trained``: recommend's cost does not depend on the weights (the ``train`` part measures
training). What is timed is ``Engine.recommend(user, 10)`` itself: one LSTM pass over the user's last 50
windows (forecast and every catalog item's score), framing in the monthly cut, the user's events, retrieval
from the in-memory mirror of the store's item vectors, re-ranking and reasons. The one-time loads on the first
request (the item-vector mirror, catalog maps, popularity) are timed apart, as is a bare Chroma query of the
200 nearest items (the retrieval a catalog too large to mirror would pay).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _scale_common import Phase, RandomItemEmbeddings, peak_mib, random_unit_vectors

from interest_tools.data import Dataset
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig, InterestLSTM, ItemSpace, LSTMForecaster
from interest_tools.pipeline import window_config_from_label
from interest_tools.settings import Settings
from interest_tools.store import InterestStore
from interest_tools.windows import WindowConfig, compute_windows


def _ms(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "max_ms": round(float(ms.max()), 2),
        "n": len(samples),
    }


def _forecaster(vectors: np.ndarray, space: ItemSpace, table: Any, config: ForecastConfig) -> LSTMForecaster:
    """An LSTM of the configured shape with fresh weights, attached to ``table``."""
    torch.manual_seed(config.seed)
    model = InterestLSTM.from_config(torch.as_tensor(vectors), len(space.categories), config)
    forecaster = LSTMForecaster(config.model_copy(update={"window_label": table.config.label}))
    forecaster.set_trained(model, space, table, [], 0, 0.0)
    return forecaster


def store_dir(root: Path, n_items: int) -> Path:
    """Store directory of a catalog size (10M and 20M events share the same 200k-item catalog)."""
    return root / f"items_{n_items}"


def store_part(n: int, root: Path) -> dict[str, Any]:
    """Run in the child: fill a persistent item store with the catalog of this size (skipped when done)."""
    from bench_windows import synthetic

    out: dict[str, Any] = {"events": n}
    with Phase("generate", out):
        _, items = synthetic(n)
    path = store_dir(root, len(items))
    reused = path.exists()
    embeddings = RandomItemEmbeddings(random_unit_vectors(len(items)))
    with Phase("store_insert", out):
        store = InterestStore.open(embeddings, Settings(store_path=path))
        report = store.upsert_items(items, show_progress=False)
        store.close()
    out.update(items=len(items), store_items_inserted=report.n_embedded, store_items_skipped=report.n_skipped)
    if reused:  # the same catalog was stored at a smaller size: this run only checked it (nothing to embed)
        out["store_reused"] = "same catalog as a smaller size: every item found unchanged, nothing inserted"
        out["store_check_s"] = out.pop("store_insert_s")
    else:
        out["store_insert_items_per_s"] = round(report.n_embedded / out["store_insert_s"])
    out["store_disk_mib"] = round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)
    out["process_peak_rss_mib"] = max([peak_mib()] + [v for k, v in out.items() if k.endswith("_peak_rss_mib")])
    return out


def _time_calls(fn: Any, users: list[str]) -> dict[str, float]:
    times = []
    for u in users:
        t = time.perf_counter()
        fn(u)
        times.append(time.perf_counter() - t)
    return _ms(times)


def recommend_part(n: int, root: Path, n_users: int = 50, warmup: int = 3, other_threads: int = 2) -> dict[str, Any]:
    """Run in the child: data, windows, the engine over the stored items, then timed recommend calls."""
    from bench_windows import synthetic

    out: dict[str, Any] = {"events": n}
    with Phase("generate", out):
        events, items = synthetic(n)
    config = ForecastConfig(show_progress=False)
    with Phase("window", out):  # the stored (month) cut
        month = compute_windows(events, items, WindowConfig())
    with Phase("forecast_windows", out):  # the forecaster's cut
        fc_table = compute_windows(events, items, window_config_from_label(config.window_label))
    out.update(users=len(month.user_rows), items=len(items), month_windows=len(month), forecast_windows=len(fc_table))
    embeddings = RandomItemEmbeddings(random_unit_vectors(len(items)))
    settings = Settings(store_path=store_dir(root, len(items)))
    with Phase("open_store", out):
        store = InterestStore.open(embeddings, settings)
        vectors = store.get_item_vectors(items["item_id"].tolist())  # as a build reads them (catalog_vectors)
    engine = Engine(settings, embeddings=embeddings, store=store)
    engine.__dict__.update(
        dataset=Dataset(events=events, items=items, name=f"synthetic-{n}"),
        window_config=month.config,
        windows=month,
        forecast_windows=fc_table,
        forecaster=_forecaster(vectors, ItemSpace.from_items(items), fc_table, config),
    )
    rng = np.random.default_rng(3)
    pool = np.asarray(month.users(), dtype=object)
    users = [str(u) for u in rng.choice(pool, size=min(n_users, len(pool)), replace=False)]
    with Phase("first_request", out):  # one-time loads: mirror of item vectors, catalog maps, popularity
        out["items_returned"] = len(engine.recommend(users[0], 10).items)
    with Phase("recommend", out):
        for u in users[1 : 1 + warmup]:
            engine.recommend(u, 10)
        out["recommend"] = _time_calls(lambda u: engine.recommend(u, 10), users)
    out["part_lstm_forecast_and_scores"] = _time_calls(engine.forecaster.forecast_and_scores, users)
    user_events = getattr(engine, "user_events", engine.dataset.user_events)  # the engine's row index, if it has one
    out["part_user_events"] = _time_calls(user_events, users)
    queries = iter(random_unit_vectors(len(users), seed=11))
    out["peer_chroma_query_200"] = _time_calls(lambda u: store.query_items(vector=next(queries), k=200), users[:20])
    threads = torch.get_num_threads()
    torch.set_num_threads(other_threads)  # torch's default: small per-request ops wait on a busy second core
    try:
        out[f"recommend_torch_{other_threads}_threads"] = _time_calls(lambda u: engine.recommend(u, 10), users)
    finally:
        torch.set_num_threads(threads)
    store.close()
    out["process_peak_rss_mib"] = max([peak_mib()] + [v for k, v in out.items() if k.endswith("_peak_rss_mib")])
    return out
