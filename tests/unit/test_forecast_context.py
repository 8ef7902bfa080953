"""Summary context for the LSTM (the seed's hypothesis): each step reads its latest *finished* summarised window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interest_tools.data import canonicalize_events
from interest_tools.errors import ConfigError, NotBuiltError
from interest_tools.forecast import ForecastConfig, load_checkpoint, summary_context, train_forecaster
from interest_tools.windows import WindowConfig, compute_windows

CONTEXT = ForecastConfig(
    item_dim=8,
    hidden_size=16,
    dropout=0.0,
    epochs=3,
    lr=0.03,
    max_seq_len=20,
    summary_input=True,
    seed=0,
    num_threads=1,
    choose_by_validation=False,
)


def _items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(6)],
            "title": [f"Item {i}" for i in range(6)],
            "categories": [["A"], ["A"], ["B"], ["B"], ["C"], ["C"]],
            "description": [""] * 6,
        }
    )


def _events(times: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(u, f"i{k % 6}", pd.Timestamp(t, tz="UTC")) for u, ts in times.items() for k, t in enumerate(ts)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["rating"], frame["weight"], frame["event"], frame["text"] = np.nan, 1.0, "view", ""
    return canonicalize_events(frame)


def test_each_step_reads_the_latest_month_that_had_ended() -> None:
    items = _items()
    events = _events(
        {
            "a": ["2020-01-05", "2020-01-20", "2020-02-01", "2020-02-10", "2020-04-02"],
            "b": ["2020-03-03", "2020-03-04"],
        }
    )
    steps = compute_windows(events, items, WindowConfig(every_n_events=1))
    months = compute_windows(events, items, WindowConfig(freq="month"))
    vectors = np.arange(len(months), dtype=np.float32)[:, None] + 1.0  # row r of months -> [r + 1]
    context = summary_context(steps, months, vectors)[:, 0]
    a_jan, a_feb, a_apr = (months.user_rows["a"][0] + k + 1 for k in range(3))  # value = month row + 1
    a = slice(*steps.user_rows["a"])
    # January's steps: no month had ended. Feb 1 (00:00 exactly at January's end) reads January; so does Feb 10.
    # April 2 reads February (March had no window for a; February is the latest finished one).
    assert context[a].tolist() == [0.0, 0.0, a_jan, a_jan, a_feb]
    assert a_apr not in context[a].tolist()
    b = slice(*steps.user_rows["b"])
    assert context[b].tolist() == [0.0, 0.0]  # b's only month (March) has not ended at either step
    with pytest.raises(ConfigError, match="one embedded summary per window row"):
        summary_context(steps, months, vectors[:-1])


def test_summary_input_trains_saves_and_needs_its_context(tmp_path) -> None:
    items = _items()
    days = pd.date_range("2020-01-01", periods=40, freq="5D").strftime("%Y-%m-%d").tolist()
    events = _events({f"u{u}": days[u : u + 30] for u in range(6)})
    steps = compute_windows(events, items, WindowConfig(every_n_events=1))
    months = compute_windows(events, items, WindowConfig(freq="month"))
    rng = np.random.default_rng(0)
    item_vectors = rng.standard_normal((6, 8)).astype(np.float32)
    context = summary_context(steps, months, rng.standard_normal((len(months), 8)).astype(np.float32))
    with pytest.raises(ConfigError, match="summary_input needs step_context"):
        train_forecaster(steps, items, item_vectors, CONTEXT)
    model = train_forecaster(steps, items, item_vectors, CONTEXT, step_context=context)
    assert model.model is not None and model.model.context_in is not None
    scores = model.score_items("u0")
    # The context is read: other summaries give other scores.
    other = compute_windows(events, items, WindowConfig(every_n_events=1))
    model.set_context(other, np.zeros_like(context))
    assert not np.allclose(model.score_items("u0", other), scores)
    # A table without context is refused, not read with zeros.
    fresh = compute_windows(events, items, WindowConfig(every_n_events=1))
    with pytest.raises(NotBuiltError, match="set_context"):
        model.score_items("u0", fresh)
    loaded = load_checkpoint(model.save(tmp_path / "ckpt")).set_context(steps, context).attach(steps)
    np.testing.assert_array_equal(loaded.score_items("u0"), scores)
