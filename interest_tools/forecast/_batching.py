"""Tensors of window sequences for the LSTM: what training and inference both feed the model.

A *chunk* is ``(first row, end row exclusive, first step with a loss)`` of one user's rows in a
:class:`~interest_tools.forecast._profile.TableView`. :func:`make_batch` right-pads chunks into one batch; each
step's target is the next row (none past the end of the table, as at forecast time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from interest_tools.forecast._profile import TableView

if TYPE_CHECKING:
    from interest_tools.forecast._model import InterestLSTM

Chunk = tuple[int, int, int]  # (first row, end row exclusive, first step with a loss)


@dataclass
class Batch:
    """Tensors of one batch of window sequences (right padded)."""

    bag_items: torch.Tensor
    bag_offsets: torch.Tensor
    bag_weights: torch.Tensor
    categories: torch.Tensor
    lengths: torch.Tensor
    loss_steps: torch.Tensor  # flat (batch * steps) positions that carry a loss
    target_items: torch.Tensor
    target_offsets: torch.Tensor
    target_weights: torch.Tensor
    target_step: torch.Tensor  # loss-step number of each target item
    target_categories: torch.Tensor
    target_rows: np.ndarray
    seen_step: torch.Tensor  # with_seen: loss-step number of each (step, seen item) pair, unique pairs
    seen_items: torch.Tensor  # with_seen: catalog index of each pair's item (seen at or before its step)
    context: torch.Tensor | None = None  # (batch, steps, dim) step context when the view has one
    first_loss: torch.Tensor | None = None  # (batch,) each chunk's first step with a loss (before it: burn-in)


def _gather(indptr: np.ndarray, values: list[np.ndarray], rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Gather CSR segments of ``rows`` (``-1`` gives an empty segment); returns values and segment offsets."""
    valid = rows >= 0
    safe = np.where(valid, rows, 0)
    counts = np.where(valid, indptr[safe + 1] - indptr[safe], 0)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    total = int(counts.sum())
    pos = np.repeat(indptr[safe] - offsets, counts) + np.arange(total)
    return [v[pos] for v in values], offsets


def seen_pairs(view: TableView, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique ``(k, item)`` pairs: the catalog items of every window of ``rows[k]``'s user up to that row."""
    if len(rows) == 0 or len(view.item_idx) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first = view.item_indptr[view.user_start[rows]]
    counts = view.item_indptr[rows + 1] - first
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.repeat(first - offsets, counts) + np.arange(int(counts.sum()))
    base = int(view.item_idx.max()) + 1
    keys = np.sort(np.repeat(np.arange(len(rows), dtype=np.int64), counts) * base + view.item_idx[pos])
    if len(keys):  # np.unique, by sort and neighbour comparison: 30x faster here than its hash-based default
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys // base, keys % base


def make_batch(view: TableView, chunks: list[Chunk], device: str = "cpu", *, with_seen: bool = False) -> Batch:
    """Build the tensors of a batch of chunks (targets are each step's next row).

    With ``with_seen``, also the pairs of (loss step, item the user had seen by then) that the repeat head reads.
    """
    steps = max(e - s for s, e, _ in chunks)
    rows = np.full((len(chunks), steps), -1, dtype=np.int64)
    loss = np.zeros((len(chunks), steps), dtype=bool)
    for b, (s, e, first) in enumerate(chunks):
        rows[b, : e - s] = np.arange(s, e)
        loss[b, first : e - s] = True
    flat = rows.reshape(-1)
    (items, weights), offsets = _gather(view.item_indptr, [view.item_idx, view.item_w], flat)
    cats = np.where(flat[:, None] >= 0, view.cats[np.maximum(flat, 0)], 0.0).astype(np.float32)
    loss_steps = np.flatnonzero(loss.reshape(-1))
    target_rows = flat[loss_steps] + 1
    target_rows = np.where(target_rows < len(view.cats), target_rows, -1)  # past the end at forecast time
    (t_items, t_weights), t_offsets = _gather(view.item_indptr, [view.item_idx, view.item_w], target_rows)
    t_step = np.repeat(np.arange(len(target_rows)), np.diff(np.append(t_offsets, len(t_items))))

    empty = np.zeros(0, dtype=np.int64)
    seen_step, seen_items = seen_pairs(view, flat[loss_steps]) if with_seen else (empty, empty)

    def t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=device)

    return Batch(
        bag_items=t(items, torch.long),
        bag_offsets=t(offsets, torch.long),
        bag_weights=t(weights, torch.float32),
        categories=t(cats.reshape(len(chunks), steps, -1), torch.float32),
        lengths=torch.as_tensor((rows >= 0).sum(1), dtype=torch.long),
        loss_steps=t(loss_steps, torch.long),
        target_items=t(t_items, torch.long),
        target_offsets=t(t_offsets, torch.long),
        target_weights=t(t_weights, torch.float32),
        target_step=t(t_step, torch.long),
        target_categories=t(np.where(target_rows[:, None] >= 0, view.cats[target_rows], 0.0), torch.float32),
        target_rows=target_rows,
        seen_step=t(seen_step, torch.long),
        seen_items=t(seen_items, torch.long),
        first_loss=torch.as_tensor([first for _, _, first in chunks], dtype=torch.long),
        context=None
        if view.context is None
        else t(
            np.where(flat[:, None] >= 0, view.context[np.maximum(flat, 0)], 0.0).reshape(len(chunks), steps, -1),
            torch.float32,
        ),
    )


def encode_batch(model: InterestLSTM, tower: torch.Tensor, batch: Batch, *, truncate: bool = False) -> torch.Tensor:
    """Hidden states of a batch's sequences (see :meth:`InterestLSTM.encode`).

    With ``truncate``, the steps before each chunk's first loss step are burn-in (read without gradients; their
    outputs are zero): only the loss steps' outputs are meaningful then.
    """
    return model.encode(
        tower,
        batch.bag_items,
        batch.bag_offsets,
        batch.bag_weights,
        batch.categories,
        batch.lengths,
        batch.context,
        burn_in=batch.first_loss if truncate else None,
    )
