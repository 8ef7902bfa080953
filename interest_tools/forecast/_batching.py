"""Tensors of window sequences for the LSTM: what training and inference both feed the model.

A *chunk* is ``(first row, end row exclusive, first step with a loss)`` of one user's rows in a
:class:`~interest_tools.forecast._profile.TableView`. :func:`make_batch` right-pads chunks into one batch; each
step's target is the next row (none past the end of the table, as at forecast time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from interest_tools.forecast._profile import TableView

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


def _gather(indptr: np.ndarray, values: list[np.ndarray], rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Gather CSR segments of ``rows`` (``-1`` gives an empty segment); returns values and segment offsets."""
    valid = rows >= 0
    safe = np.where(valid, rows, 0)
    counts = np.where(valid, indptr[safe + 1] - indptr[safe], 0)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    total = int(counts.sum())
    pos = np.repeat(indptr[safe] - offsets, counts) + np.arange(total)
    return [v[pos] for v in values], offsets


def make_batch(view: TableView, chunks: list[Chunk], device: str = "cpu") -> Batch:
    """Build the tensors of a batch of chunks (targets are each step's next row)."""
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
    )
