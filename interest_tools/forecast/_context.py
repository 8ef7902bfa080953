"""Step context for the LSTM: the embedded summary of the window each step can already read about.

The forecaster reads one window per event (``events-1``), while summaries are written for the build's longer
windows (a calendar month, say). :func:`summary_context` gives every step the vector of its user's latest
summarised window that had *ended* when the step began, so a step never sees a summary of its own future.
Steps before a user's first finished window get zeros.
"""

from __future__ import annotations

import numpy as np

from interest_tools.errors import ConfigError
from interest_tools.windows import WindowTable


def summary_context(steps: WindowTable, summaries: WindowTable, summary_vectors: np.ndarray) -> np.ndarray:
    """One context vector per row of ``steps``.

    Args:
        steps: The windows the LSTM reads (e.g. one per event).
        summaries: The summarised windows (same users; e.g. calendar months).
        summary_vectors: One embedded summary per row of ``summaries``.

    Returns:
        ``(len(steps), dim)`` float32: for each step, the vector of the latest summary window of the same user
        whose end is at or before the step's start; zeros when none has ended yet.
    """
    vectors = np.asarray(summary_vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(summaries):
        raise ConfigError(
            f"summary_vectors has shape {vectors.shape} but there are {len(summaries)} summarised windows: pass one "
            "embedded summary per window row, in the table's order"
        )
    out = np.zeros((len(steps), vectors.shape[1]), dtype=np.float32)
    step_start = steps.frame["start"].to_numpy()
    summary_end = summaries.frame["end"].to_numpy()
    for user, (lo, hi) in steps.user_rows.items():
        rows = summaries.user_rows.get(user)
        if rows is None:
            continue
        a, b = rows
        ends = summary_end[a:b]  # a user's windows are in time order, so their ends are sorted
        last = np.searchsorted(ends, step_start[lo:hi], side="right") - 1
        has = last >= 0
        out[np.arange(lo, hi)[has]] = vectors[a + last[has]]
    return out
