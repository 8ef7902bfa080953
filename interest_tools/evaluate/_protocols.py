"""Evaluation protocols for the LSTM forecaster and the baselines.

``loo``: leave-one-out next item by time. ``next-window``: the first window after a global cut time. Both
rank the whole catalog, with and without masking the user's earlier items.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from interest_tools.data import Dataset
from interest_tools.errors import ConfigError
from interest_tools.evaluate._sasrec import SASRecConfig, SASRecPeer
from interest_tools.forecast import (
    BASELINES,
    METRIC_NAMES,
    ForecastConfig,
    Forecaster,
    LSTMForecaster,
    catalog_coverage,
    per_user_metrics,
    summary_context,
    top_k,
)
from interest_tools.store import EmbeddingsLike, SentenceTransformerEmbeddings, embed_matrix, embeddings_name, item_text
from interest_tools.windows import WindowConfig, WindowTable, compute_windows

logger = logging.getLogger(__name__)

Protocol = Literal["loo", "next-window"]
MODELS = ("lstm", "sasrec", "pop", "last_window", "ema")
DEFAULT_LSTM_WINDOW = WindowConfig(every_n_events=1)
DEFAULT_BASELINE_WINDOW = WindowConfig(freq="month")


def embed_items(items: pd.DataFrame, embeddings: EmbeddingsLike | None = None) -> tuple[np.ndarray, str]:
    """Embed the catalog's item texts (title, categories, description); returns vectors and the model name."""
    embeddings = embeddings or SentenceTransformerEmbeddings()
    texts = [
        item_text(t, list(c), d)
        for t, c, d in zip(items["title"], items["categories"], items["description"], strict=True)
    ]
    return embed_matrix(embeddings, texts), embeddings_name(embeddings)


def summary_step_context(
    events: pd.DataFrame,
    items: pd.DataFrame,
    steps: WindowTable,
    embeddings: EmbeddingsLike | None = None,
    summary_window: WindowConfig | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The LSTM's step context for an ablation: each step's latest finished summarised window, embedded.

    Windows of ``summary_window`` (default calendar months, as a build stores them) are summarised by the
    offline template, embedded with ``embeddings`` (the items' model) and given to each step of ``steps`` by
    :func:`~interest_tools.forecast.summary_context`. Returns the context and what was done (for eval's JSON).
    """
    from interest_tools.summaries import summarize_windows

    summary_window = summary_window or DEFAULT_BASELINE_WINDOW
    t0 = time.monotonic()
    table = compute_windows(events, items, summary_window)
    windows = [w for user in table.users() for w in table.for_user(user)]
    texts = [s.summary for s in summarize_windows(windows, items, events)]
    vectors = embed_matrix(embeddings or SentenceTransformerEmbeddings(), texts)
    context = summary_context(steps, table, vectors)
    info = {
        "summary_window": summary_window.label,
        "summaries": len(texts),
        "steps_with_context": int((np.abs(context).sum(1) > 0).sum()),
        "seconds": round(time.monotonic() - t0, 1),
    }
    return context, info


def _sample_users(events: pd.DataFrame, max_users: int | None, seed: int) -> pd.DataFrame:
    if max_users is None:
        return events
    users = np.array(sorted(events["user_id"].unique().tolist()), dtype=object)
    if len(users) <= max_users:
        return events
    keep = np.random.default_rng(seed).choice(users, size=max_users, replace=False)
    return events[events["user_id"].isin(set(keep.tolist()))].reset_index(drop=True)


def _catalog_index(items: pd.DataFrame, item_ids: pd.Series) -> np.ndarray:
    return pd.Index(items["item_id"].astype(str)).get_indexer(pd.Index(item_ids.astype(str)))


def _history(events: pd.DataFrame, items: pd.DataFrame) -> dict[str, np.ndarray]:
    idx = _catalog_index(items, events["item_id"])
    frame = pd.DataFrame({"u": events["user_id"].astype(str).to_numpy(), "i": idx})
    frame = frame[frame["i"] >= 0]
    return {str(u): np.unique(g.to_numpy()) for u, g in frame.groupby("u", sort=True)["i"]}


def _split(
    events: pd.DataFrame,
    items: pd.DataFrame,
    protocol: Protocol,
    cut: pd.Timestamp | None,
    cut_quantile: float,
    test_freq: str,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, Any]]:
    """Return (input events, test targets per user as catalog indices, protocol parameters)."""
    if protocol == "loo":
        from_end = events.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
        n_of_user = events.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
        test = (from_end == 0) & (n_of_user >= 3)
        test_ev = events[test]
        idx = _catalog_index(items, test_ev["item_id"])
        targets = {str(u): np.array([i]) for u, i in zip(test_ev["user_id"], idx, strict=True) if i >= 0}
        return events[~test].reset_index(drop=True), targets, {"min_events": 3}
    if protocol != "next-window":
        raise ConfigError(f"unknown protocol '{protocol}': use 'loo' or 'next-window'")
    ts = events["timestamp"]
    if cut is None:
        cut = pd.Timestamp(cast(Any, ts.quantile(cut_quantile)))  # a datetime Series' quantile is a Timestamp
    cut = pd.Timestamp(cut)
    cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    before, after = events[ts < cut], events[ts >= cut]
    if before.empty or after.empty:
        raise ConfigError(f"cut time {cut.isoformat()} leaves no events on one side: choose a cut inside the data")
    post = compute_windows(after, items, WindowConfig(freq=test_freq))  # type: ignore[arg-type]
    known = set(before["user_id"].astype(str))
    lookup = pd.Index(items["item_id"].astype(str))
    targets = {}
    for user, (lo, _) in post.user_rows.items():
        if user not in known:
            continue
        a, b = post.item_indptr[lo], post.item_indptr[lo + 1]
        idx = lookup.get_indexer(pd.Index(np.asarray(post.item_ids[post.item_codes[a:b]], dtype=object).astype(str)))
        if (idx >= 0).any():
            targets[user] = np.unique(idx[idx >= 0])
    params = {"cut": cut.isoformat(), "cut_quantile": cut_quantile, "test_window": test_freq}
    return before.reset_index(drop=True), targets, params


def _score_metrics(
    model: Forecaster,
    table: WindowTable,
    users: list[str],
    targets: dict[str, np.ndarray],
    seen: dict[str, np.ndarray],
    n_items: int,
) -> tuple[dict[str, float], dict[str, float], float, int]:
    """(masked metrics, unmasked metrics, masked coverage@10, masked users) of one model."""
    sums = {name: 0.0 for name in METRIC_NAMES}
    sums_u = {name: 0.0 for name in METRIC_NAMES}
    n_masked = 0
    tops: list[np.ndarray] = []
    for i in range(0, len(users), 512):
        part = users[i : i + 512]
        scores = model.score_users(part, table).astype(np.float64)
        per = per_user_metrics(top_k(scores, 20), [targets[u] for u in part])
        for name in METRIC_NAMES:
            sums_u[name] += float(per[name].sum())
        masked_targets = []
        for j, user in enumerate(part):
            history = seen.get(user, np.empty(0, dtype=np.int64))
            scores[j, history] = -np.inf
            masked_targets.append(np.setdiff1d(targets[user], history))
        ranked = top_k(scores, 20)
        keep = [j for j, t in enumerate(masked_targets) if len(t)]
        per = per_user_metrics(ranked[keep], [masked_targets[j] for j in keep])
        for name in METRIC_NAMES:
            sums[name] += float(per[name].sum())
        n_masked += len(keep)
        tops.append(ranked[:, :10])
    masked = {k: round(v / max(n_masked, 1), 6) for k, v in sums.items()}
    unmasked = {k: round(v / max(len(users), 1), 6) for k, v in sums_u.items()}
    return masked, unmasked, round(catalog_coverage(np.concatenate(tops), n_items), 6), n_masked


def run_eval(
    dataset: Dataset,
    protocol: Protocol = "loo",
    item_vectors: np.ndarray | None = None,
    embeddings: EmbeddingsLike | None = None,
    seed: int = 2020,
    *,
    models: tuple[str, ...] = MODELS,
    config: ForecastConfig | None = None,
    window: WindowConfig | None = None,
    baseline_window: WindowConfig | None = None,
    max_users: int | None = None,
    cut: pd.Timestamp | str | None = None,
    cut_quantile: float = 0.8,
    test_freq: str = "month",
    sasrec: SASRecConfig | None = None,
) -> dict[str, Any]:
    """Evaluate the LSTM forecaster and the baselines on one protocol.

    Args:
        dataset: Events and items.
        protocol: ``loo``: each user's last event is the test item, the second to last the LSTM's validation
            (early stopping), rankings over all items. ``next-window``: train on events before ``cut``, test each
            user's items of their first ``test_freq`` window after it.
        item_vectors: One embedding per catalog row; computed with ``embeddings`` (default all-MiniLM-L6-v2)
            when None.
        embeddings: Embeddings object used when ``item_vectors`` is None.
        seed: Seed of training and user sampling.
        models: Which of lstm, sasrec, pop, last_window, ema to run (``sasrec``: the reference SASRec peer of
            :mod:`interest_tools.evaluate._sasrec`, trained on the LSTM's windows).
        config: LSTM hyperparameters (seed overridden by ``seed``). With ``summary_input``, each LSTM step also
            reads the embedded template summary of its user's latest finished month (:func:`summary_step_context`,
            embedded with ``embeddings``: the items' model).
        window: Windows the LSTM reads (default one per event, ``events-1``).
        baseline_window: Windows of last_window and ema (default calendar months).
        max_users: Evaluate a seeded random sample of this many users (their events only).
        cut: Cut time of ``next-window`` (default: the ``cut_quantile`` quantile of event times).
        cut_quantile: See ``cut``.
        test_freq: Calendar length of the test window of ``next-window``.
        sasrec: Settings of the SASRec peer (seed overridden by ``seed``).

    Returns:
        ``{protocol, n_users, metrics: {model: {ndcg@10, hit@10, recall@20, mrr@10}}, metrics_unmasked: {...},
        coverage: {model: catalog coverage@10 (masked)}, n_users_masked, seed, params, seconds, lstm_training,
        sasrec_training}``.
        ``metrics`` mask each user's earlier items (and drop them from the targets); ``metrics_unmasked`` rank
        everything.
    """
    unknown = set(models) - set(MODELS)
    if unknown:
        raise ConfigError(f"unknown model(s) {sorted(unknown)}: choose from {', '.join(MODELS)}")
    started = time.monotonic()
    items = dataset.items.reset_index(drop=True)
    embed_seconds = 0.0
    if item_vectors is None:
        t0 = time.monotonic()
        item_vectors, embedding_model = embed_items(items, embeddings)
        embed_seconds = time.monotonic() - t0
    else:
        embedding_model = embeddings_name(embeddings) if embeddings is not None else "precomputed"
    events = _sample_users(dataset.events, max_users, seed)
    train_events, targets, params = _split(
        events, items, protocol, pd.Timestamp(cut) if cut else None, cut_quantile, test_freq
    )
    users = sorted(targets)
    if not users:
        raise ConfigError(f"protocol '{protocol}' leaves no user to test: use more data or another cut")
    seen = _history(train_events, items)
    window = window or DEFAULT_LSTM_WINDOW
    baseline_window = baseline_window or DEFAULT_BASELINE_WINDOW
    tables: dict[str, WindowTable] = {}
    config = (config or ForecastConfig()).model_copy(update={"seed": seed})
    result: dict[str, Any] = {
        "protocol": protocol,
        "n_users": len(users),
        "metrics": {},
        "metrics_unmasked": {},
        "coverage": {},
        "n_users_masked": 0,
        "seed": seed,
    }
    seconds: dict[str, float] = {"embed": round(embed_seconds, 1)}
    lstm_info: dict[str, Any] = {}
    sasrec_info: dict[str, Any] = {}
    for name in models:
        t0 = time.monotonic()
        cut_cfg = window if name in ("lstm", "sasrec") else baseline_window
        key = cut_cfg.label
        if key not in tables:
            tables[key] = compute_windows(train_events, items, cut_cfg)
        table = tables[key]
        model: Forecaster
        if name == "lstm":
            context = None
            if config.summary_input:
                context, summary_info = summary_step_context(train_events, items, table, embeddings)
                seconds["summaries"] = summary_info["seconds"]
            lstm = LSTMForecaster(config, embedding_model=embedding_model).fit(
                table, items, item_vectors, step_context=context
            )
            serving = lstm.serving_model
            lstm.serve("lstm")  # the row scores the LSTM itself, whatever serving would choose
            lstm_info = {
                "best_epoch": lstm.best_epoch,
                "epochs_run": len(lstm.training_log),
                "val_ndcg@10": round(lstm.best_val_ndcg, 6),
                "stop_reason": lstm.stop_reason,
                "max_train_minutes_hit": lstm.stop_reason == "time_cap",
                "serving_model": serving,
                "baseline_val_ndcg@10": lstm.baseline_val,
                "train_seconds": round(time.monotonic() - t0, 1),
            }
            if config.summary_input:
                lstm_info["summary_input"] = summary_info
            model = lstm
        elif name == "sasrec":
            peer = SASRecPeer((sasrec or SASRecConfig()).model_copy(update={"seed": seed})).fit(table, items)
            sasrec_info = {**peer.info(), "train_seconds": round(time.monotonic() - t0, 1)}
            model = peer  # type: ignore[assignment]
        else:
            model = BASELINES[name]().fit(table, items, item_vectors)
        masked, unmasked, coverage, n_masked = _score_metrics(model, table, users, targets, seen, len(items))
        result["metrics"][name], result["metrics_unmasked"][name] = masked, unmasked
        result["coverage"][name] = coverage
        result["n_users_masked"] = n_masked
        seconds[name] = round(time.monotonic() - t0, 1)
        logger.info("%s %s masked %s unmasked %s", protocol, name, masked, unmasked)
    seconds["total"] = round(time.monotonic() - started, 1)
    result["params"] = {
        **params,
        "dataset": dataset.name,
        "n_items": len(items),
        "max_users": max_users,
        "lstm_window": window.label,
        "baseline_window": baseline_window.label,
        "embedding_model": embedding_model,
        "embedding_dim": int(item_vectors.shape[1]),
        "lstm_config": config.model_dump(mode="json"),
    }
    result["seconds"] = seconds
    result["lstm_training"] = lstm_info
    result["sasrec_training"] = sasrec_info
    return result
