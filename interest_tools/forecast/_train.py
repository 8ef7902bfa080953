"""Training data from a :class:`~interest_tools.windows._compute.WindowTable`, the training loop and early stopping.

Each user's windows form one sequence. The model at step ``t`` is trained to predict window ``t + 1``: a
full softmax over the catalog for its items (each item weighted by its share of the window's weight), a
cross-entropy against its category shares, and a cosine loss between the interest head and the window's mean
item embedding. With ``repeat_head``, the softmax logits of the items the user has seen by step ``t`` carry the
step's repeat logit (in the full softmax and, for the positives and the shared negatives, in the sampled one).
Long histories are cut into chunks of ``max_seq_len`` windows (aligned to the end; with ``train_stride`` they
overlap and only each chunk's last ``train_stride`` steps carry a loss, so every target is read after at least
``max_seq_len - train_stride`` windows of context).

Early stopping is on a split by time: each user's last window is held out; validation predicts it from the
windows before it (items seen before masked, unless repeated in the window) and scores NDCG@10. The weights of
the best epoch are kept (the later one on ties). The held-out windows are never training targets. Training
stops after ``epochs`` or ``patience`` epochs without gain, and on wall time only when ``max_train_minutes`` is
set. Then the baselines are scored on the same held-out windows (:mod:`interest_tools.forecast._choice`) and the
best of them is served instead of the LSTM if it validates higher.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F  # noqa: N812

from interest_tools.errors import ConfigError
from interest_tools.forecast._batching import Batch, Chunk, encode_batch, make_batch
from interest_tools.forecast._choice import baseline_validation, choose
from interest_tools.forecast._lstm import LSTMForecaster
from interest_tools.forecast._model import InterestLSTM
from interest_tools.forecast._profile import ItemSpace, TableView, check_item_vectors
from interest_tools.forecast._types import ForecastConfig
from interest_tools.memory import keep_freed_memory
from interest_tools.windows import WindowTable

logger = logging.getLogger(__name__)

#: Shared negatives of sampled softmax when the catalog exceeds ``full_softmax_max_items`` and none are set.
AUTO_NEGATIVES = 2048

__all__ = [
    "NegativeSampler",
    "fit_lstm",
    "split_chunks",
    "train_forecaster",
]


def split_chunks(view: TableView, max_len: int, stride: int | None = None) -> tuple[list[Chunk], list[Chunk]]:
    """Cut every user's sequence into training chunks, and one validation chunk per user.

    Training predicts windows up to each user's second to last; validation predicts the last one. Each
    training chunk reads up to ``max_len`` windows and carries a loss on its last ``stride`` steps (default
    ``max_len``: chunks do not overlap); chunk ends step back by ``stride``, so every window is a target exactly
    once per epoch, and with ``stride < max_len`` each is predicted after at least ``max_len - stride`` windows
    of context (the steps before are burn-in).
    """
    stride = min(stride or max_len, max_len)
    train: list[Chunk] = []
    val: list[Chunk] = []
    for lo, hi in view.table.user_rows.values():
        if hi - lo < 2:
            continue
        val.append((max(lo, hi - 1 - max_len), hi - 1, hi - 1 - max(lo, hi - 1 - max_len) - 1))
        end = hi - 2  # inputs lo .. hi-3 predict lo+1 .. hi-2
        while end > lo:
            first = max(lo, end - stride)  # first input row whose prediction carries a loss
            start = max(lo, end - max_len)
            train.append((start, end, first - start))
            end = first
    return train, val


def batch_loss(
    model: InterestLSTM, batch: Batch, config: ForecastConfig, sampler: NegativeSampler | None = None
) -> torch.Tensor:
    """Training loss of one batch: item softmax + category cross-entropy + interest cosine.

    The item softmax is over the whole catalog, or, with a ``sampler``, over each target and a shared sample
    of negatives with the log-probability correction of sampled softmax.
    """
    tower = model.item_tower()
    hidden = encode_batch(model, tower, batch, truncate=not config.burn_in_grad)
    out = model.heads(hidden.reshape(-1, hidden.shape[-1])[batch.loss_steps])
    n = max(len(batch.loss_steps), 1)
    # The targets' logits from their vectors, as model.scores gives them (the repeat logit on seen items).
    pos = (out.user[batch.target_step] * tower[batch.target_items]).sum(-1) + model.item_bias[batch.target_items]
    repeat = out.repeat if len(batch.seen_step) else None  # the repeat head's logits, when any item was seen
    if repeat is not None:
        pos = pos + repeat[batch.target_step] * _is_seen(batch, batch.target_step, batch.target_items)
    if sampler is None:
        # model.scores with the bias fused and the repeat logits added in place: each full pass over this
        # (positions x catalog) matrix is ~7% of a step.
        logits = torch.addmm(model.item_bias, out.user, tower.T)
        if repeat is not None:
            logits.index_put_((batch.seen_step, batch.seen_items), repeat[batch.seen_step], accumulate=True)
        lse = torch.logsumexp(logits, dim=-1)[batch.target_step]
    else:
        neg = sampler.sample()
        neg_logits = out.user @ tower[neg].T + model.item_bias[neg] - sampler.log_kq[neg]
        if repeat is not None:
            steps = torch.arange(len(repeat), device=neg.device)[:, None].expand(-1, len(neg))
            neg_logits = neg_logits + repeat[:, None] * _is_seen(batch, steps, neg.expand_as(steps))
        lse_neg = torch.logsumexp(neg_logits, dim=-1)[batch.target_step]
        lse = torch.logaddexp(pos - sampler.log_kq[batch.target_items], lse_neg)
        pos = pos - sampler.log_kq[batch.target_items]
    loss = ((lse - pos) * batch.target_weights).sum() / n
    if config.category_loss_weight > 0:
        cat_loss = -(batch.target_categories * F.log_softmax(out.category_logits, dim=-1)).sum(-1).mean()
        loss = loss + config.category_loss_weight * cat_loss
    if config.interest_loss_weight > 0 and len(batch.target_items):
        target = F.embedding_bag(
            batch.target_items,
            model.text_vectors,
            batch.target_offsets,
            mode="sum",
            per_sample_weights=batch.target_weights,
        )
        has = target.norm(dim=-1) > 0
        if bool(has.any()):
            cos = F.cosine_similarity(out.interest[has], target[has], dim=-1)
            loss = loss + config.interest_loss_weight * (1.0 - cos).mean()
    return loss


def _is_seen(batch: Batch, steps: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """1.0 where ``(step, item)`` is one of the batch's seen pairs (the pairs are sorted and unique), else 0.0."""
    base = int(torch.maximum(batch.seen_items.max(), items.max())) + 1
    keys = batch.seen_step * base + batch.seen_items  # sorted: the pairs come from np.unique of such keys
    query = steps * base + items
    at = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
    return (keys[at] == query).float()


class NegativeSampler:
    """Shared negatives for sampled softmax, drawn in proportion to ``(count + 1) ** power``."""

    def __init__(self, counts: np.ndarray, k: int, power: float = 0.75, device: str = "cpu", seed: int = 0) -> None:
        q = (np.asarray(counts, dtype=np.float64) + 1.0) ** power
        q /= q.sum()
        self.k = int(min(k, len(q)))
        self.q = torch.as_tensor(q, dtype=torch.float32, device=device)
        self.log_kq = torch.log(self.k * self.q)
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def sample(self) -> torch.Tensor:
        """Draw ``k`` item indices (with replacement, from the sampler's own seeded generator)."""
        return torch.multinomial(self.q, self.k, replacement=True, generator=self.generator)


@torch.no_grad()
def validation_ndcg(model: InterestLSTM, view: TableView, chunks: list[Chunk], config: ForecastConfig) -> float:
    """Mean NDCG@10 of predicting each user's held-out last window.

    Items the user had seen before are masked unless they are in the held-out window (so repeat consumption
    still counts).
    """
    from interest_tools.forecast._metrics import ranking_metrics

    model.eval()
    tower = model.item_tower()
    scores_all: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for i in range(0, len(chunks), 256):
        part = chunks[i : i + 256]
        batch = make_batch(view, part, config.device, with_seen=config.repeat_head)
        hidden = encode_batch(model, tower, batch)
        out = model.heads(hidden.reshape(-1, hidden.shape[-1])[batch.loss_steps])
        scores = model.scores(out, tower, batch.seen_step, batch.seen_items).float().cpu().numpy()
        for j, row in enumerate(batch.target_rows):
            user = str(view.table.frame["user_id"].iat[row])
            lo = view.table.user_rows[user][0]
            seen = np.unique(view.item_idx[view.item_indptr[lo] : view.item_indptr[row]])
            target, _ = view.items_of(row)
            if len(target):
                scores[j, np.setdiff1d(seen, target)] = -np.inf
                scores_all.append(scores[j])
                targets.append(target)
    model.train()
    if not targets:
        return 0.0
    return ranking_metrics(np.stack(scores_all), targets)["ndcg@10"]


def _progress(total: int, show: bool | None) -> object | None:
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training forecaster", unit="epoch")


def fit_lstm(
    forecaster: LSTMForecaster,
    windows: WindowTable,
    items: pd.DataFrame,
    item_vectors: np.ndarray,
    step_context: np.ndarray | None = None,
) -> LSTMForecaster:
    """Train ``forecaster`` in place on every user's windows (see the module docstring).

    Reproducible: the same seed, data and config give the same weights whatever the machine's load. Every
    random draw (shuffles, dropout, negatives) comes from generators seeded with ``config.seed``, torch runs
    with deterministic algorithms, and training uses ``config.num_threads`` threads (CPU float sums depend on
    the thread count). Training stops on epochs and patience, or on ``max_train_minutes`` only when it is set.
    The process keeps freed heap memory from here on (:func:`interest_tools.memory.keep_freed_memory`).
    """
    config = forecaster.config.model_copy(update={"window_label": windows.config.label})
    forecaster.config = config
    space = ItemSpace.from_items(items)
    vectors = check_item_vectors(item_vectors, space)
    if config.summary_input:
        if step_context is None:
            raise ConfigError(
                "summary_input needs step_context: one embedded summary row per window "
                "(interest_tools.forecast.summary_context); `build` does not provide it (the option is an "
                "evaluation ablation: `interest-tools eval --summary-input`), so leave summary_input off there"
            )
        forecaster.set_context(windows, step_context)
    context = np.asarray(step_context, dtype=np.float32) if config.summary_input else None
    keep_freed_memory()  # each step's catalog-sized temporaries reuse warm pages (interest_tools.memory)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    rng_state = torch.random.get_rng_state()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(config.seed)  # dropout draws from torch's global generator
    try:
        return _fit(forecaster, config, space, vectors, windows, np.random.default_rng(config.seed), context)
    finally:
        torch.random.set_rng_state(rng_state)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)


def lr_factor(step: int, config: ForecastConfig, total_steps: int) -> float:
    """Multiplier of ``config.lr`` at optimiser step ``step``: linear warmup, then constant or cosine decay.

    Warmup takes at most a tenth of ``total_steps``: on a tiny log (a step or two per epoch) the whole budget would
    otherwise pass at a fraction of the learning rate.
    """
    warmup = min(config.warmup_steps, total_steps // 10)
    if warmup and step < warmup:
        return 0.1 + 0.9 * step / warmup
    if config.lr_decay == "cosine" and total_steps > warmup:
        progress = min(1.0, (step - warmup) / (total_steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


def _fit(
    forecaster: LSTMForecaster,
    config: ForecastConfig,
    space: ItemSpace,
    vectors: np.ndarray,
    windows: WindowTable,
    rng: np.random.Generator,
    context: np.ndarray | None = None,
) -> LSTMForecaster:
    view = TableView.build(windows, space)
    view.context = context
    train, val = split_chunks(view, config.max_seq_len, config.train_stride)
    if len(val) > config.max_val_users:  # validation scores every item per user: a seeded sample bounds it
        val = [val[i] for i in sorted(rng.choice(len(val), config.max_val_users, replace=False).tolist())]
    if not train:
        raise ConfigError(
            "too little history to train the forecaster: every user needs at least 3 windows (one to read, one to "
            "predict, one held out for validation); use shorter windows, e.g. WindowConfig(every_n_events=1)"
        )
    model = InterestLSTM.from_config(torch.as_tensor(vectors), len(space.categories), config).to(config.device)
    if context is not None and context.shape[1] != vectors.shape[1]:
        raise ConfigError(
            f"step_context vectors have {context.shape[1]} dimensions but the item vectors {vectors.shape[1]}: "
            "embed the summaries with the items' embedding model"
        )
    optimiser = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = -(-len(train) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: lr_factor(step, config, total_steps))
    sampler = None
    negatives = config.negatives or (AUTO_NEGATIVES if space.n_items > config.full_softmax_max_items else 0)
    if negatives:
        counts = np.bincount(view.item_idx, minlength=space.n_items)
        sampler = NegativeSampler(counts, negatives, device=config.device, seed=config.seed)
    best, best_state, best_epoch, stale = -1.0, copy.deepcopy(model.state_dict()), 0, 0
    log: list[dict[str, float]] = []
    deadline = None if config.max_train_minutes is None else time.monotonic() + 60 * config.max_train_minutes
    stop_reason = "epochs"
    bar = _progress(config.epochs, config.show_progress)
    model.train()
    for epoch in range(1, config.epochs + 1):
        t0 = time.monotonic()
        order = rng.permutation(len(train))
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            if deadline is not None and time.monotonic() > deadline:  # opt-in cap, checked per step
                stop_reason = "time_cap"
                break
            part = [train[j] for j in order[i : i + config.batch_size]]
            batch = make_batch(view, part, config.device, with_seen=config.repeat_head)
            loss = batch_loss(model, batch, config, sampler)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            scheduler.step()
            total += float(loss.detach()) * len(batch.lengths)
        score = validation_ndcg(model, view, val, config) if val else -float(total)
        log.append({"epoch": epoch, "loss": total / len(train), "val_ndcg@10": score, "seconds": time.monotonic() - t0})
        logger.info("epoch %d loss %.4f val ndcg@10 %.4f", epoch, total / len(train), score)
        if bar is not None:
            bar.update(1)  # type: ignore[attr-defined]
            bar.set_postfix(loss=f"{total / len(train):.3f}", val=f"{score:.4f}")  # type: ignore[attr-defined]
        if score >= best:  # ties keep the later, longer-trained weights
            best, best_state, best_epoch, stale = score, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            stale += 1
        if stop_reason == "time_cap" or (deadline is not None and time.monotonic() > deadline):
            stop_reason = "time_cap"
            logger.warning("training stopped at max_train_minutes=%s after epoch %d", config.max_train_minutes, epoch)
            break
        if stale >= config.patience:
            stop_reason = "patience"
            break
    if bar is not None:
        bar.close()  # type: ignore[attr-defined]
    model.load_state_dict(best_state)
    model.eval()
    if config.choose_by_validation and val:
        forecaster.baseline_val = {k: round(v, 6) for k, v in baseline_validation(view, val, space).items()}
        forecaster.serving_model = choose(best, forecaster.baseline_val)
        if forecaster.serving_model != "lstm":
            logger.warning(
                "the LSTM's validation NDCG@10 %.4f is below %s's %.4f: serving %s",
                best,
                forecaster.serving_model,
                forecaster.baseline_val[forecaster.serving_model],
                forecaster.serving_model,
            )
    forecaster.set_trained(model, space, windows, log, best_epoch, best)
    forecaster.stop_reason = stop_reason
    return forecaster


def train_forecaster(
    window_table: WindowTable,
    items: pd.DataFrame,
    item_vectors: np.ndarray,
    config: ForecastConfig | None = None,
    *,
    embedding_model: str = "unknown",
    step_context: np.ndarray | None = None,
) -> LSTMForecaster:
    """Train an LSTM forecaster on every user's windows.

    Args:
        window_table: Every user's windows (e.g. ``compute_windows(events, items, WindowConfig(every_n_events=1))``).
        items: The canonical catalog; its row order is the order of item scores.
        item_vectors: One text embedding per catalog row (``interest_tools.store._embed.embed_matrix``).
        config: Hyperparameters (defaults when None).
        embedding_model: Name of the model that made ``item_vectors`` (recorded in checkpoints).
        step_context: With ``config.summary_input``: one embedded summary per window row
            (:func:`~interest_tools.forecast.summary_context`).

    Returns:
        The trained forecaster, attached to ``window_table`` as its default history.
    """
    forecaster = LSTMForecaster(config, embedding_model=embedding_model)
    return fit_lstm(forecaster, window_table, items, item_vectors, step_context)
