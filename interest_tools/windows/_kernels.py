"""Array kernels of :func:`~interest_tools.windows._compute.compute_windows`: stable sorts on packed keys and cell sums.

Sorting dominates windowing millions of events, so these replace multi-key ``lexsort`` with one argsort of a
packed int64 key where the values allow it, skip sorting what is already in order, and sum (window, category)
cells densely in cache-sized blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_BLOCK_CELLS = 1 << 20  # window x category cells summed densely at a time (8 MiB per float64 array)


def order_items(win: np.ndarray, weight: np.ndarray, rating: np.ndarray, item: np.ndarray, n_item: int) -> np.ndarray:
    """Order window-item pairs by window, then weight and mean rating (both descending), then item id.

    Weights and ratings take few distinct values in practice, so their joint rank is packed with the window
    and item into one int64 key: one argsort instead of a four-key lexsort (2-3x faster on 10M pairs). The
    pairs arrive sorted by (window, item), so windows whose pairs all share one rank keep their order.
    """
    w_rank, n_w = _desc_rank(weight)
    r_rank, n_r = _desc_rank(rating)
    n_rank = n_w * n_r
    n_win = int(win.max()) + 1 if len(win) else 1
    if float(n_win) * n_rank * n_item >= 2**62:
        return np.lexsort((item, -rating, -weight, win))
    key = (win.astype(np.int64) * n_rank + w_rank * n_r + r_rank) * n_item + item
    return sort_within(key, win)


def sort_within(key: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Stable argsort of ``key`` whose leading part is ``group``.

    When ``group`` is already non-decreasing (canonical events are sorted by user and time), only the rows of
    groups with two or more rows are sorted; nothing is sorted when ``key`` is already in order.
    """
    n = len(key)
    if n < 2 or bool(np.all(key[1:] >= key[:-1])):
        return np.arange(n)
    if not bool(np.all(group[1:] >= group[:-1])):
        return _stable_argsort(key)
    same = group[1:] == group[:-1]
    multi = np.zeros(n, dtype=bool)
    multi[1:] |= same
    multi[:-1] |= same
    sub = np.flatnonzero(multi)
    order = np.arange(n)
    order[sub] = sub[_stable_argsort(key[sub])]
    return order


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """Stable argsort: the (SIMD) quicksort, then ties put back in input order (about 2x numpy's timsort)."""
    order = np.argsort(key)
    ranked = key[order]
    tie = ranked[1:] == ranked[:-1]
    if tie.any():
        in_tie = np.zeros(len(key), dtype=bool)
        in_tie[1:] |= tie
        in_tie[:-1] |= tie
        sub = np.flatnonzero(in_tie)
        seg = order[sub]
        order[sub] = seg[np.lexsort((seg, ranked[sub]))]
    return order


def _desc_rank(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense rank of each value, largest first (hash the few distinct values, sort only those)."""
    codes, uniq = pd.factorize(values)
    rank_of = np.empty(len(uniq), dtype=np.int64)
    rank_of[np.argsort(-np.asarray(uniq), kind="stable")] = np.arange(len(uniq))
    return rank_of[codes], max(len(uniq), 1)


def time_ordered(user: np.ndarray, ts: np.ndarray, item: np.ndarray) -> bool:
    """Whether events are already sorted by user, time, item (canonical frames are): skips a 3-key sort."""
    if len(user) < 2:
        return True
    du, dt, di = np.diff(user), np.diff(ts), np.diff(item)
    return bool(np.all((du > 0) | ((du == 0) & ((dt > 0) | ((dt == 0) & (di >= 0))))))


def cell_sums(
    cell_win: np.ndarray, cat: np.ndarray, w: np.ndarray, c: np.ndarray, n_win: int, n_cat: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum weights and counts per (window, category) cell; ``cell_win`` is sorted.

    Dense ``bincount`` over blocks of windows of ``_BLOCK_CELLS`` cells (cache-sized): linear in events plus
    cells, with no hashing. When windows hold few events (cells would be mostly empty), a stable sort of the
    cell keys, which are already sorted by window, groups them instead.
    """
    if n_win * n_cat > 4 * len(cell_win):  # few events per window: sorting the cells is cheaper
        cell = cell_win.astype(np.int64) * n_cat + cat
        order = np.argsort(cell, kind="stable")  # nearly sorted already (by window): timsort runs
        cell = cell[order]
        first = np.concatenate([[True], cell[1:] != cell[:-1]])
        group = np.cumsum(first) - 1
        return cell[first], np.bincount(group, weights=w[order]), np.bincount(group, weights=c[order])
    block = max(1, _BLOCK_CELLS // max(n_cat, 1))
    edges = np.arange(0, n_win + block, block)
    cuts = np.searchsorted(cell_win, edges)
    out_cells, out_sums, out_counts = [], [], []
    for w0, lo, hi in zip(edges[:-1].tolist(), cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        if lo == hi:
            continue
        local = (cell_win[lo:hi] - w0) * n_cat + cat[lo:hi]
        size = (min(n_win, w0 + block) - w0) * n_cat
        counts = np.bincount(local, weights=c[lo:hi], minlength=size)
        cells = np.flatnonzero(counts)
        out_sums.append(np.bincount(local, weights=w[lo:hi], minlength=size)[cells])
        out_counts.append(counts[cells])
        out_cells.append(cells + w0 * n_cat)
    return np.concatenate(out_cells), np.concatenate(out_sums), np.concatenate(out_counts)
