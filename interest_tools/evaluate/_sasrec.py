"""A reference SASRec, trained only as an evaluation peer of the LSTM forecaster (never served).

SASRec (Kang & McAuley, 2018) with the full softmax cross-entropy over the catalog at every position
(Klenitskiy & Vasilev, RecSys 2023), written here because no maintained library fits the project's pins
(RecTools 0.19 needs numpy < 2). It reads the same one-event-per-window table as the LSTM, so both see the
same items in the same order:

* every user's training sequence (all but the last event, which validates) is cut into chunks of up to
  ``max_len + 1`` items from the end; each chunk's last ``stride`` positions carry the loss and the next chunk
  ends ``stride`` items earlier, so every interaction is a training target once per epoch, predicted after at
  least ``max_len - stride`` items of context (close to RecBole's training on every prefix, at a fraction of
  its cost);
* causal self-attention blocks over learned item and position embeddings, in RecBole's layout by default
  (layer norm after each residual sum, a 256-wide feed-forward layer, dropout 0.5, no sqrt(dim) scaling); item
  scores are dot products with the (tied) item embeddings;
* the epoch is chosen on validation NDCG@10 of each user's held-out last event (earlier items masked), with
  patience; the best epoch's weights are kept.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F  # noqa: N812
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from interest_tools.errors import ConfigError, NotBuiltError
from interest_tools.forecast import Forecast, ItemSpace, TableView, ranking_metrics
from interest_tools.memory import keep_freed_memory
from interest_tools.windows import WindowTable

logger = logging.getLogger(__name__)


class SASRecConfig(BaseModel):
    """Settings of the SASRec peer (reported in eval's JSON)."""

    model_config = ConfigDict(extra="forbid")

    max_len: int = Field(default=50, ge=2, description="Items of history read per position (and chunk length - 1).")
    stride: int = Field(
        default=10,
        ge=1,
        description="Positions of each training chunk that carry a loss; chunk ends step back by this much, so "
        "every item is a target once per epoch after at least max_len - stride items of context (max_len: plain "
        "chunks of max_len + 1 items overlapping by one).",
    )
    dim: int = Field(default=64, ge=8, description="Item and position embedding size.")
    ffn_dim: int | None = Field(
        default=256, ge=8, description="Inner size of each block's feed-forward layer (RecBole: 256); None means dim."
    )
    norm: Literal["pre", "post"] = Field(
        default="post",
        description="Layer norm after each residual sum with the summed input embeddings normalised ('post', as "
        "RecBole's SASRec), or before each sub-layer with a final norm ('pre').",
    )
    scale_embeddings: bool = Field(
        default=False, description="Multiply item embeddings by sqrt(dim) before adding positions (RecBole: no)."
    )
    blocks: int = Field(default=2, ge=1, description="Self-attention blocks.")
    heads: int = Field(default=2, ge=1, description="Attention heads per block.")
    dropout: float = Field(
        default=0.5,
        ge=0.0,
        lt=1.0,
        description="Dropout on embeddings, attention and FFN (RecBole's 0.5; in RecBole's layout it validates "
        "above 0.2's pre-norm peer on MovieLens).",
    )
    lr: float = Field(default=1e-3, gt=0.0, description="Adam learning rate.")
    batch_size: int = Field(default=64, ge=1, description="Chunks per training batch.")
    epochs: int = Field(default=200, ge=1, description="Maximum epochs.")
    patience: int = Field(
        default=10,
        ge=1,
        description="Stop after this many epochs without validation gain (validation on a few hundred users is "
        "noisy: on MovieLens with 5 the peer stopped at epoch 15, before its best epoch, 18).",
    )
    seed: int = Field(default=2020, description="Seed of weights, shuffles and dropout.")
    num_threads: int | None = Field(default=2, ge=1, description="Torch CPU threads while training.")


class _Block(nn.Module):
    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        dim, inner, dropout = config.dim, config.ffn_dim or config.dim, config.dropout
        self.post = config.norm == "post"
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, config.heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(
            nn.Linear(dim, inner), nn.GELU(), nn.Dropout(dropout), nn.Linear(inner, dim), nn.Dropout(dropout)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        if self.post:
            a, _ = self.attn(x, x, x, attn_mask=blocked, need_weights=False)
            x = self.ln1(x + self.drop(a))
            return self.ln2(x + self.ffn(x))
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, attn_mask=blocked, need_weights=False)
        x = x + self.drop(a)
        return x + self.ffn(self.ln2(x))


class SASRecNet(nn.Module):
    """Item + position embeddings, causal self-attention blocks, tied output embeddings."""

    def __init__(self, n_items: int, config: SASRecConfig) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)  # 0 pads; item i is row i + 1
        self.pos = nn.Embedding(config.max_len, config.dim)
        nn.init.normal_(self.items.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[0].zero_()
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.blocks))
        self.ln = nn.LayerNorm(config.dim)  # on the output ('pre') or on the summed input embeddings ('post')
        self.post = config.norm == "post"
        self.scale = math.sqrt(config.dim) if config.scale_embeddings else 1.0
        self.heads = config.heads

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden states (batch, steps, dim) of left-padded item sequences (0 = padding)."""
        steps = seq.shape[1]
        x = self.items(seq) * self.scale + self.pos(torch.arange(steps, device=seq.device))
        x = self.drop(self.ln(x) if self.post else x)
        causal = torch.triu(torch.ones(steps, steps, dtype=torch.bool, device=seq.device), diagonal=1)
        eye = torch.eye(steps, dtype=torch.bool, device=seq.device)
        # Keys a query may not read: later steps, and padding except itself. A padding query that could read
        # nothing would make NaN (the inference fast path spreads it to the whole row), so it reads itself.
        blocked = causal | ((seq == 0)[:, None, :] & ~eye)
        blocked = blocked.repeat_interleave(self.heads, dim=0)
        for block in self.blocks:
            x = block(x, blocked)
        return x if self.post else self.ln(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every catalog item: (..., n_items)."""
        return hidden @ self.items.weight[1:].T


def _left_pad(seqs: list[np.ndarray], length: int) -> torch.Tensor:
    out = np.zeros((len(seqs), length), dtype=np.int64)
    for i, s in enumerate(seqs):
        s = s[-length:]
        if len(s):
            out[i, length - len(s) :] = s + 1
    return torch.as_tensor(out)


class SASRecPeer:
    """SASRec fitted on a one-event-per-window table; scores every catalog item (the Forecaster scoring half)."""

    name = "sasrec"

    def __init__(self, config: SASRecConfig | None = None) -> None:
        self.config = config or SASRecConfig()
        self.net: SASRecNet | None = None
        self.space: ItemSpace | None = None
        self.training_log: list[dict[str, float]] = []
        self.best_epoch = 0
        self.best_val_ndcg = 0.0
        self._table: WindowTable | None = None
        self._seqs: dict[str, np.ndarray] = {}

    @staticmethod
    def sequences(table: WindowTable, space: ItemSpace) -> dict[str, np.ndarray]:
        """Each user's catalog item indices in window order (the first catalog item of each window)."""
        view = TableView.build(table, space)
        first = np.full(len(table), -1, dtype=np.int64)
        has = np.diff(view.item_indptr) > 0
        first[has] = view.item_idx[view.item_indptr[:-1][has]]
        return {u: first[lo:hi][first[lo:hi] >= 0] for u, (lo, hi) in table.user_rows.items()}

    def fit(self, windows: WindowTable, items: pd.DataFrame, item_vectors: np.ndarray | None = None) -> SASRecPeer:
        """Train on every user's sequence but its last item; choose the epoch on that item (NDCG@10)."""
        del item_vectors  # SASRec learns item vectors from ids only
        cfg = self.config
        self.space = ItemSpace.from_items(items)
        self._table, self._seqs = windows, self.sequences(windows, self.space)
        train: list[tuple[np.ndarray, int]] = []
        val_in: list[np.ndarray] = []
        val_target: list[int] = []
        for seq in self._seqs.values():
            if len(seq) < 3:
                continue
            val_in.append(seq[:-1])
            val_target.append(int(seq[-1]))
            fit_seq = seq[:-1]
            end = len(fit_seq)
            stride = min(cfg.stride, cfg.max_len)
            while end > 1:  # targets fit_seq[end - stride : end], read after up to max_len items
                start = max(0, end - cfg.max_len - 1)
                first = max(1, end - stride)
                train.append((fit_seq[start:end], end - first))
                end = first
        if not train:
            raise ConfigError("too little history to train the SASRec peer: users need at least 3 events")
        keep_freed_memory()  # as the LSTM's training does: catalog-sized temporaries reuse warm pages
        threads = torch.get_num_threads()
        rng_state = torch.random.get_rng_state()
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        torch.manual_seed(cfg.seed)
        try:
            self._train(train, val_in, val_target, np.random.default_rng(cfg.seed))
        finally:
            torch.random.set_rng_state(rng_state)
            torch.set_num_threads(threads)
        return self

    def _train(
        self,
        train: list[tuple[np.ndarray, int]],
        val_in: list[np.ndarray],
        val_target: list[int],
        rng: np.random.Generator,
    ) -> None:
        cfg = self.config
        assert self.space is not None
        net = SASRecNet(self.space.n_items, cfg)
        optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        best, best_state, stale = -1.0, copy.deepcopy(net.state_dict()), 0
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.monotonic()
            net.train()
            order = rng.permutation(len(train))
            total = 0.0
            for i in range(0, len(order), cfg.batch_size):
                chunk = [train[j] for j in order[i : i + cfg.batch_size]]
                seq = _left_pad([c for c, _ in chunk], cfg.max_len + 1)
                inputs, targets = seq[:, :-1], seq[:, 1:]
                n_loss = torch.as_tensor([n for _, n in chunk])
                keep = (inputs > 0) & (torch.arange(cfg.max_len) >= cfg.max_len - n_loss[:, None])
                hidden = net(inputs)[keep]
                loss = F.cross_entropy(net.logits(hidden), targets[keep] - 1)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(chunk)
            self.net = net
            score = self._validate(val_in, val_target)
            self.training_log.append(
                {"epoch": epoch, "loss": total / len(train), "val_ndcg@10": score, "seconds": time.monotonic() - t0}
            )
            logger.info("sasrec epoch %d loss %.4f val ndcg@10 %.4f", epoch, total / len(train), score)
            if score >= best:  # ties keep the later weights but do not reset patience
                stale = 0 if score > best else stale + 1
                best, best_state, self.best_epoch = score, copy.deepcopy(net.state_dict()), epoch
            else:
                stale += 1
            if stale >= cfg.patience:
                break
        net.load_state_dict(best_state)
        net.eval()
        self.net, self.best_val_ndcg = net, best

    @torch.no_grad()
    def _scores(self, seqs: list[np.ndarray]) -> np.ndarray:
        assert self.net is not None
        self.net.eval()
        out = []
        for i in range(0, len(seqs), 256):
            hidden = self.net(_left_pad(seqs[i : i + 256], self.config.max_len))[:, -1]
            out.append(self.net.logits(hidden).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def _validate(self, val_in: list[np.ndarray], val_target: list[int]) -> float:
        scores = self._scores(val_in)
        for j, (seq, target) in enumerate(zip(val_in, val_target, strict=True)):
            scores[j, np.setdiff1d(seq, [target])] = -np.inf
        return ranking_metrics(scores, [np.array([t]) for t in val_target])["ndcg@10"]

    def score_users(self, user_ids: list[str], windows: WindowTable | None = None) -> np.ndarray:
        """Score every catalog item for each user's next event: shape ``(len(user_ids), n_items)``."""
        if self.net is None or self.space is None:
            raise NotBuiltError("the SASRec peer is not trained: call fit(...) first")
        seqs = self._seqs if windows is None or windows is self._table else self.sequences(windows, self.space)
        return self._scores([seqs.get(u, np.empty(0, dtype=np.int64)) for u in user_ids])

    def score_items(
        self, user_id: str, windows: WindowTable | None = None, *, exclude_seen: bool = False
    ) -> np.ndarray:
        """Score every catalog item for one user (``-inf`` for the user's items when ``exclude_seen``)."""
        scores = self.score_users([user_id], windows)[0].astype(np.float64)
        if exclude_seen:
            scores[self._seqs.get(user_id, np.empty(0, dtype=np.int64))] = -np.inf
        return scores

    def forecast(self, user_id: str, windows: WindowTable | None = None) -> Forecast:
        """Not offered: the peer only ranks items (it is an evaluation reference, not a served forecaster)."""
        raise NotBuiltError("the SASRec peer only scores items for evaluation; use the LSTM forecaster to forecast")

    def info(self) -> dict[str, Any]:
        """Settings and training outcome for eval's JSON."""
        return {
            "settings": self.config.model_dump(mode="json"),
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.training_log),
            "val_ndcg@10": round(self.best_val_ndcg, 6),
        }
