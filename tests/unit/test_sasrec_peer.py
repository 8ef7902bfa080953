"""The SASRec evaluation peer learns a sequential pattern and is scored like every other model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interest_tools.data import canonicalize_events
from interest_tools.evaluate._sasrec import SASRecConfig, SASRecPeer
from interest_tools.windows import WindowConfig, compute_windows


def cycle_events(n_users: int = 12, length: int = 30, short: int | None = None) -> pd.DataFrame:
    """Every user walks the 12 items in a cycle (i00 -> i01 -> ... -> i11 -> i00), starting at a different item
    (odd users only ``short`` steps when given)."""
    rows = []
    for u in range(n_users):
        for t in range(length if short is None or u % 2 == 0 else short):
            ts = pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(hours=t)
            rows.append((f"c{u}", f"i{(u + t) % 12:02d}", ts, 4.0))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])
    frame["weight"], frame["event"], frame["text"] = 1.0, "rating", ""
    return canonicalize_events(frame)


def test_sasrec_learns_the_next_item_of_a_cycle() -> None:
    from tests.conftest import make_items

    items = make_items()
    table = compute_windows(cycle_events(), items, WindowConfig(every_n_events=1))
    cfg = SASRecConfig(
        max_len=8, stride=4, dim=16, blocks=1, heads=1, dropout=0.0, lr=1e-2, batch_size=16, epochs=15, seed=0
    )
    peer = SASRecPeer(cfg).fit(table, items)
    users = [f"c{u}" for u in range(12)]
    scores = peer.score_users(users)
    assert scores.shape == (12, len(items))
    ids = items["item_id"].tolist()
    expected = [ids.index(f"i{(u + 30) % 12:02d}") for u in range(12)]  # the item after each user's last
    assert (scores.argmax(1) == np.array(expected)).mean() >= 0.9
    assert peer.best_val_ndcg > 0.9 and peer.info()["settings"]["max_len"] == 8
    again = SASRecPeer(cfg).fit(table, items).score_users(users)
    np.testing.assert_array_equal(scores, again)  # seeded


@pytest.mark.parametrize(
    "layout",
    [{"norm": "pre", "ffn_dim": None, "scale_embeddings": True}, {}],
    ids=["pre-norm", "post-norm (the default: RecBole's layout)"],
)
def test_histories_shorter_than_max_len_are_scored_not_nan(layout: dict[str, object]) -> None:
    """Left padding must not turn a short history's scores into NaN in inference mode (it once did for every
    user with fewer than ``max_len`` items, with two blocks and two heads: the peer stalled near Pop)."""
    from tests.conftest import make_items

    items = make_items()
    table = compute_windows(cycle_events(length=40, short=20), items, WindowConfig(every_n_events=1))
    cfg = SASRecConfig.model_validate(
        {"max_len": 32, "stride": 8, "dim": 16, "blocks": 2, "heads": 2, "dropout": 0.0, "lr": 1e-2}
        | {"batch_size": 16, "epochs": 15, "seed": 0}
        | layout
    )
    peer = SASRecPeer(cfg).fit(table, items)
    users = [f"c{u}" for u in range(12)]
    scores = peer.score_users(users)
    assert np.isfinite(scores).all()
    ids = items["item_id"].tolist()
    expected = [ids.index(f"i{(u + (40 if u % 2 == 0 else 20)) % 12:02d}") for u in range(12)]
    assert (scores.argmax(1) == np.array(expected)).mean() >= 0.9
    assert peer.best_val_ndcg > 0.9
    # One user alone or in a batch: the same scores (padding is per user).
    np.testing.assert_allclose(peer.score_users(["c3"])[0], scores[3], rtol=1e-5, atol=1e-5)
