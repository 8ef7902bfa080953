"""Honest model choice on small data, and rising / falling that agree with the user's own windows (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.data import load_dataset
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.forecast._choice import choose
from interest_tools.forecast._framing import pooled_share
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings
from interest_tools.store import InterestStore

SHOP = Path(__file__).resolve().parents[2] / "examples" / "data"


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Engine:
    emb = DeterministicFakeEmbedding(size=16)
    root = tmp_path_factory.mktemp("shop")
    eng = Engine(Settings(store_path=root / "store"), embeddings=emb, store=InterestStore.in_memory(emb))
    dataset = load_dataset(SHOP / "shop_events.csv", SHOP / "shop_items.csv")
    cfg = ForecastConfig(epochs=8, patience=8, hidden_size=16, item_dim=16, seed=0)
    eng.build(dataset, BuildConfig(forecast=cfg))
    return eng


def test_choose_keeps_the_lstm_unless_a_baseline_is_strictly_better() -> None:
    assert choose(0.30, {"pop": 0.10, "last_window": 0.30, "ema": 0.20}) == "lstm"
    assert choose(0.10, {"pop": 0.12, "last_window": 0.25, "ema": 0.20}) == "last_window"


def test_serving_says_which_forecaster_answers(shop: Engine) -> None:
    fc = shop.forecaster
    served = fc.serving_model
    lstm_val, baseline_val = fc.best_val_ndcg, fc.baseline_val
    assert set(baseline_val) == {"pop", "last_window", "ema"}
    if served == "lstm":
        assert lstm_val >= max(baseline_val.values())
    else:
        assert baseline_val[served] == max(baseline_val.values()) > lstm_val
    for user in shop.users():
        assert shop.forecast(user).model == served
    assert shop.recommend("maya", k=3) is not None


def test_maya_growing_interests_are_never_falling(shop: Engine) -> None:
    windows = shop.windows.for_user("maya")
    recent, earlier = pooled_share(windows[-3:]), pooled_share(windows[-6:-3])
    growing = {c for c, s in recent.items() if s - earlier.get(c, 0.0) >= 0.02}
    assert {"Camping"} <= growing  # what her own last months show
    fc = shop.forecast("maya")
    assert not growing & {c.category for c in fc.falling}, fc.falling
