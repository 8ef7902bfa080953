"""Forecasters on tiny synthetic histories where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interest_tools.data import canonicalize_events
from interest_tools.errors import ConfigError, NotBuiltError, UnknownUserError
from interest_tools.forecast import (
    EMAForecaster,
    Forecast,
    ForecastConfig,
    Forecaster,
    LastWindowForecaster,
    LSTMForecaster,
    PopularityForecaster,
    train_forecaster,
)
from interest_tools.windows import WindowConfig, compute_windows

CATS = ["Sci-Fi", "Comedy", "Horror", "Documentary"]
TINY = ForecastConfig(
    item_dim=8,
    hidden_size=16,
    dropout=0.0,
    epochs=80,
    patience=200,
    lr=0.04,
    negatives=0,
    max_seq_len=30,
    seed=0,
    num_threads=1,
)


def fake_vectors(items: pd.DataFrame, dim: int = 8, seed: int = 0) -> np.ndarray:
    """One direction per first category, plus noise: items of a category are close."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(items), dim), dtype=np.float32)
    for i, cats in enumerate(items["categories"]):
        out[i, CATS.index(cats[0])] = 1.0
    out += 0.1 * rng.standard_normal(out.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def alternating_events(n_users: int = 8, months: int = 24, seed: int = 0) -> pd.DataFrame:
    """Users who alternate Sci-Fi and Horror every month (half start with each), three events a month."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for m in range(months):
            cat = 0 if (m + u) % 2 == 0 else 2  # Sci-Fi items i00-i02, Horror items i06-i08
            for day in (3, 12, 21):
                ts = pd.Timestamp(2019 + m // 12, m % 12 + 1, day, tz="UTC")
                rows.append((f"a{u}", f"i{cat * 3 + int(rng.integers(0, 3)):02d}", ts, 4.0))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])
    frame["weight"], frame["event"], frame["text"] = 1.0, "rating", ""
    return canonicalize_events(frame)


@pytest.fixture(scope="module")
def alternating():
    from tests.harness.data import make_items

    items = make_items()
    events = alternating_events()
    table = compute_windows(events, items, WindowConfig(freq="month"))
    model = train_forecaster(table, items, fake_vectors(items), TINY, embedding_model="fake-8")
    return items, events, table, model


def test_alternating_user_is_forecast_correctly(alternating) -> None:
    items, _, table, model = alternating
    for user in ("a0", "a1"):
        last = table.for_user(user)[-1]
        now = next(iter(last.category_weights))
        expected = "Horror" if now == "Sci-Fi" else "Sci-Fi"
        fc = model.forecast(user)
        assert next(iter(fc.category_weights)) == expected
        assert fc.category_weights[expected] > 0.6
        assert expected in [s.category for s in fc.rising]
        assert now in [s.category for s in fc.falling]
        top = int(np.argmax(model.score_items(user)))
        assert expected in items["categories"].iloc[top]
        # The last-window baseline repeats the present, so it is wrong here by construction.
        base = LastWindowForecaster().fit(table, items, fake_vectors(items))
        assert next(iter(base.forecast(user).category_weights)) == now


def test_lstm_interest_vector_points_to_next_category(alternating) -> None:
    items, _, _table, model = alternating
    vectors = fake_vectors(items)
    fc = model.forecast("a0")
    v = np.asarray(fc.interest_vector)
    assert v.shape == (8,) and abs(np.linalg.norm(v) - 1.0) < 1e-5
    expected = next(iter(fc.category_weights))
    sims = vectors @ v
    assert expected in items["categories"].iloc[int(np.argmax(sims))]


def test_forecast_json_shape(alternating) -> None:
    _, _, table, model = alternating
    fc = model.forecast("a0")
    data = fc.to_json()
    assert set(data) == {"user_id", "next_window", "category_weights", "rising", "falling", "model"}
    assert data["model"] == "lstm" and data["user_id"] == "a0"
    assert set(data["next_window"]) == {"start", "end"}
    assert all(set(s) == {"category", "before", "after"} for s in data["rising"] + data["falling"])
    weights = list(data["category_weights"].values())
    assert weights == sorted(weights, reverse=True)
    assert sum(weights) == pytest.approx(1.0, abs=0.01)
    last = table.for_user("a0")[-1]
    assert fc.next_window.start == last.end
    assert fc.next_window.end == (pd.Timestamp(last.end) + pd.DateOffset(months=1)).to_pydatetime()
    assert Forecast.model_validate({**data, "interest_vector": fc.interest_vector}).interest_vector


def test_training_is_seeded_and_logged(alternating) -> None:
    items, _, table, model = alternating
    cfg = TINY.model_copy(update={"epochs": 5})
    a = train_forecaster(table, items, fake_vectors(items), cfg)
    b = train_forecaster(table, items, fake_vectors(items), cfg)
    np.testing.assert_array_equal(a.score_items("a3"), b.score_items("a3"))
    assert len(a.training_log) == 5 and 1 <= a.best_epoch <= 5
    assert {"epoch", "loss", "val_ndcg@10", "seconds"} <= set(a.training_log[0])
    assert model.config.window_label == "month"


def test_time_cap_is_checked_every_step_not_only_per_epoch(alternating) -> None:
    items, _, table, _ = alternating
    cfg = TINY.model_copy(update={"epochs": 50, "batch_size": 1, "max_train_minutes": 1e-9, "patience": 50})
    model = train_forecaster(table, items, fake_vectors(items), cfg)
    assert len(model.training_log) == 1  # out of time within the first epoch, which is still validated
    assert model.best_epoch == 1


def test_validation_uses_a_seeded_sample_of_users(alternating, monkeypatch) -> None:
    import interest_tools.forecast._train as train_mod

    items, _, table, _ = alternating
    seen: list[list[str]] = []
    real = train_mod.validation_ndcg

    def spy(model, view, chunks, config):
        seen.append(sorted(map(str, chunks)))  # one held-out chunk per validated user
        return real(model, view, chunks, config)

    monkeypatch.setattr(train_mod, "validation_ndcg", spy)
    cfg = TINY.model_copy(update={"epochs": 1, "max_val_users": 3})
    train_forecaster(table, items, fake_vectors(items), cfg)
    train_forecaster(table, items, fake_vectors(items), cfg)
    train_forecaster(table, items, fake_vectors(items), TINY.model_copy(update={"epochs": 1}))
    assert len(seen[0]) == 3 and seen[0] == seen[1]  # a seeded sample of 3 users
    assert len(seen[2]) == len(table.users())  # every user under the cap


def test_sampled_softmax_trains_too(alternating) -> None:
    items, _, table, _ = alternating
    cfg = TINY.model_copy(update={"negatives": 6, "epochs": 40})
    model = train_forecaster(table, items, fake_vectors(items), cfg)
    user = "a0"
    now = next(iter(table.for_user(user)[-1].category_weights))
    expected = "Horror" if now == "Sci-Fi" else "Sci-Fi"
    assert expected in items["categories"].iloc[int(np.argmax(model.score_items(user)))]


def test_score_users_matches_score_items_and_masks_seen(alternating) -> None:
    _, events, _table, model = alternating
    many = model.score_users(["a0", "a1", "a2"])
    assert many.shape == (3, 12)
    # float32 LSTM (hidden 16, item dim 8) over O(1) inputs: scoring 3 users at once instead of 1 changes only the
    # summation order inside matmuls of at most 64 terms, a few float32 ulps (~1e-7) per step; 1e-5 leaves room
    # for 24 steps and the final dot products without depending on batch or thread count.
    np.testing.assert_allclose(many[1], model.score_items("a1"), rtol=1e-5, atol=1e-5)
    masked = model.score_items("a0", exclude_seen=True)
    seen = set(events.loc[events["user_id"] == "a0", "item_id"])
    ids = [f"i{i:02d}" for i in range(12)]
    assert all(np.isinf(masked[ids.index(i)]) for i in seen)
    assert all(np.isfinite(masked[ids.index(i)]) for i in set(ids) - seen)


def test_lstm_errors(alternating, items) -> None:
    _, events, table, model = alternating
    with pytest.raises(UnknownUserError):
        model.forecast("nobody")
    with pytest.raises(ConfigError, match="trained on 'month'"):
        model.forecast("a0", compute_windows(events, items, WindowConfig(freq="week")))
    with pytest.raises(NotBuiltError):
        LSTMForecaster().forecast("a0")
    with pytest.raises(ConfigError, match="item_vectors has shape"):
        train_forecaster(table, items, np.zeros((5, 8)), TINY)
    one = compute_windows(events[events["timestamp"] < pd.Timestamp("2019-02-01", tz="UTC")], items)
    with pytest.raises(ConfigError, match="too little history"):
        train_forecaster(one, items, fake_vectors(items), TINY)


def test_config_round_trip() -> None:
    cfg = ForecastConfig(hidden_size=32, window_label="month", num_threads=2)
    assert ForecastConfig.model_validate(cfg.model_dump()) == cfg
    assert ForecastConfig.model_validate_json(cfg.model_dump_json()) == cfg
    assert all(f.description for f in ForecastConfig.model_fields.values())
    with pytest.raises(ValueError):
        ForecastConfig(hidden_size=0)


# ------------------------------------------------------------------------------------------- baselines


def test_pop_baseline_equals_counting_by_hand(events, items) -> None:
    table = compute_windows(events, items, WindowConfig(freq="month"))
    pop = PopularityForecaster().fit(table, items, fake_vectors(items))
    by_hand = events["item_id"].value_counts()
    expected = np.array([by_hand.get(i, 0) for i in items["item_id"]], dtype=float)
    np.testing.assert_array_equal(pop.score_items("u1"), expected)
    np.testing.assert_array_equal(pop.score_items("u2"), expected)
    fc = pop.forecast("u2")
    # Global shares: every event's weight split equally among its item's categories.
    share: dict[str, float] = {}
    cats_of = dict(zip(items["item_id"], items["categories"], strict=True))
    for item in events["item_id"]:
        for c in cats_of[item]:
            share[c] = share.get(c, 0.0) + 1.0 / len(cats_of[item]) / len(events)
    for c, v in fc.category_weights.items():
        assert v == pytest.approx(share[c], abs=1e-4)
    assert fc.model == "pop"
    assert "Comedy" in [s.category for s in fc.falling]  # u2 is all Comedy, everyone is not


def test_last_window_and_ema_by_hand(events, items) -> None:
    table = compute_windows(events, items, WindowConfig(freq="month"))
    vectors = fake_vectors(items)
    last = LastWindowForecaster().fit(table, items, vectors)
    wins = table.for_user("u1")
    fc = last.forecast("u1")
    assert fc.category_weights == pytest.approx(wins[-1].category_weights, abs=1e-4)
    ema1 = EMAForecaster(alpha=1.0).fit(table, items, vectors)
    assert ema1.forecast("u1").category_weights == pytest.approx(fc.category_weights, abs=1e-6)
    np.testing.assert_allclose(ema1.score_items("u1"), last.score_items("u1"))
    # u1: 6 months Sci-Fi then 6 Documentary; alpha 0.5 weights the first window 0.5**11, the k-th 0.5**(12-k).
    ema = EMAForecaster(alpha=0.5).fit(table, items, vectors)
    w = [0.5**11] + [0.5 ** (12 - k) for k in range(1, 12)]
    cats = table.category_matrix()[list(table.rows_for("u1"))]
    expected = np.array(w) @ cats
    got = ema.forecast("u1").category_weights
    for i, name in enumerate(table.categories):
        if expected[i] >= 0.001:
            assert got[name] == pytest.approx(expected[i], abs=1e-4)
    # Category-conditioned popularity: u1's last window is all Documentary, so Documentary items lead.
    top3 = np.argsort(-last.score_items("u1"))[:3]
    assert {items["categories"].iloc[i][0] for i in top3} == {"Documentary"}


def test_baselines_follow_the_protocol(events, items) -> None:
    table = compute_windows(events, items, WindowConfig(freq="month"))
    for cls in (PopularityForecaster, LastWindowForecaster, EMAForecaster):
        model = cls().fit(table, items, fake_vectors(items))
        assert isinstance(model, Forecaster)
        assert model.score_users(["u1", "u3"]).shape == (2, 12)
        masked = model.score_items("u2", exclude_seen=True)
        assert np.isinf(masked[3:6]).all() and np.isfinite(masked[:3]).all()
        with pytest.raises(UnknownUserError):
            model.forecast("zz")
    with pytest.raises(NotBuiltError):
        PopularityForecaster().forecast("u1")
    with pytest.raises(ValueError):
        EMAForecaster(alpha=0.0)


def test_warmup_takes_at_most_a_tenth_of_a_short_schedule() -> None:
    from interest_tools.forecast._train import lr_factor

    config = ForecastConfig(warmup_steps=100, lr_decay="cosine")
    # A long schedule warms up over the configured 100 steps: 0.1 at step 0, 0.1 + 0.9 * 50 / 100 at step 50.
    assert lr_factor(0, config, 2000) == pytest.approx(0.1)
    assert lr_factor(50, config, 2000) == pytest.approx(0.55)
    assert lr_factor(100, config, 2000) == pytest.approx(1.0)
    # 16 steps in all (a tiny log): warmup is 16 // 10 = 1 step, so step 1 is already at the peak rate.
    assert lr_factor(0, config, 16) == pytest.approx(0.1)
    assert lr_factor(1, config, 16) == pytest.approx(1.0)
    # Cosine ends at lr / 10 on the last step.
    assert lr_factor(16, config, 16) == pytest.approx(0.1)
