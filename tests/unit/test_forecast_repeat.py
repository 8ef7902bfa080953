"""The LSTM's repeat head: one learned logit on the items a user has already seen.

Two synthetic logs where the answer is known: *explorers* never consume an item twice (films), *repeaters*
cycle through their own few favourites (groceries). The head must learn the sign of each, in the full and the
sampled softmax, and scoring must add it to exactly the user's seen items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from interest_tools.data import canonicalize_events
from interest_tools.forecast import ForecastConfig, ItemSpace, TableView, load_checkpoint, train_forecaster
from interest_tools.forecast._batching import make_batch, seen_pairs
from interest_tools.forecast._train import _is_seen
from interest_tools.windows import WindowConfig, compute_windows

N_ITEMS = 40
REPEAT = ForecastConfig(
    item_dim=8,
    hidden_size=16,
    dropout=0.0,
    epochs=30,
    patience=100,
    lr=0.03,
    max_seq_len=20,
    repeat_head=True,
    category_loss_weight=0.0,
    interest_loss_weight=0.0,
    seed=0,
    num_threads=1,
    choose_by_validation=False,
)


def _items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"i{i:02d}" for i in range(N_ITEMS)],
            "title": [f"Item {i}" for i in range(N_ITEMS)],
            "categories": [["A"] if i % 2 else ["B"] for i in range(N_ITEMS)],
            "description": [""] * N_ITEMS,
        }
    )


def _log(kind: str, n_users: int = 12, n_events: int = 18, seed: int = 0) -> pd.DataFrame:
    """``explore``: each user walks the catalog from a random start (i, i+1, ...), never twice the same item;
    ``repeat``: each user cycles through 3 favourites of their own. Both are predictable, so validation improves
    with training and early stopping keeps trained weights."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        if kind == "explore":
            picks = (int(rng.integers(N_ITEMS)) + np.arange(n_events)) % N_ITEMS
        else:
            picks = np.resize(rng.permutation(N_ITEMS)[:3], n_events)
        for t, item in enumerate(picks):
            rows.append((f"u{u}", f"i{int(item):02d}", pd.Timestamp(2020, 1, 1, tz="UTC") + pd.Timedelta(days=t)))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["rating"], frame["weight"], frame["event"], frame["text"] = np.nan, 1.0, "view", ""
    return canonicalize_events(frame)


def _vectors(seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((N_ITEMS, 8)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _train(kind: str, **update: object):  # type: ignore[no-untyped-def]
    items = _items()
    table = compute_windows(_log(kind), items, WindowConfig(every_n_events=1))
    model = train_forecaster(table, items, _vectors(), REPEAT.model_copy(update=update))
    return items, table, model


def _mean_repeat_logit(model, table) -> float:  # type: ignore[no-untyped-def]
    out, _ = model._step_outputs(table.users(), None)
    assert out.repeat is not None
    return float(out.repeat.mean())


@pytest.mark.parametrize("negatives", [0, 8], ids=["full-softmax", "sampled-softmax"])
def test_repeat_head_learns_never_and_always(negatives: int) -> None:
    _, explore_table, explore = _train("explore", negatives=negatives)
    _, repeat_table, repeat = _train("repeat", negatives=negatives)
    # Explorers' targets are never seen items: every gradient on the head pushes it down; repeaters' targets
    # are (after the first few events) always among 3 seen items: it goes up. The head starts at exactly 0.
    assert _mean_repeat_logit(explore, explore_table) < -0.5
    assert _mean_repeat_logit(repeat, repeat_table) > 0.5


def test_scores_add_the_repeat_logit_to_exactly_the_seen_items() -> None:
    items, table, model = _train("explore", epochs=3)
    user = table.users()[0]
    out, _ = model._step_outputs([user], None)
    base = model.model.item_logits(out.user, model.model.item_tower())[0].detach().numpy()
    scores = model.score_items(user)
    view = TableView.build(table, ItemSpace.from_items(items))
    seen = set(view.seen(user).tolist())
    assert seen and len(seen) < N_ITEMS
    diff = scores - base
    r = float(out.repeat[0])
    assert r != 0.0
    for i in range(N_ITEMS):
        # the same float32 logits plus r (or plus nothing): equal up to one float32 rounding of the sum
        assert diff[i] == pytest.approx(r if i in seen else 0.0, abs=1e-5)
    np.testing.assert_allclose(model.score_users([user])[0], scores, rtol=0, atol=1e-6)


def test_seen_pairs_and_lookup_by_hand() -> None:
    items = _items()
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b"],
            "item_id": ["i03", "i01", "i03", "i07", "i02"],
            "timestamp": pd.to_datetime(
                ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-01", "2020-01-02"], utc=True
            ),
        }
    )
    frame["rating"], frame["weight"], frame["event"], frame["text"] = np.nan, 1.0, "view", ""
    table = compute_windows(canonicalize_events(frame), items, WindowConfig(every_n_events=1))
    view = TableView.build(table, ItemSpace.from_items(items))
    lo_a, lo_b = table.user_rows["a"][0], table.user_rows["b"][0]
    steps, seen = seen_pairs(view, np.array([lo_a + 2, lo_a, lo_b + 1]))
    # step 0: a's three windows (3, 1, 3 -> {1, 3}); step 1: a's first ({3}); step 2: b's two ({7, 2})
    assert list(zip(steps.tolist(), seen.tolist(), strict=True)) == [(0, 1), (0, 3), (1, 3), (2, 2), (2, 7)]
    batch = make_batch(view, [(lo_a, lo_a + 2, 0)], with_seen=True)  # steps a0 -> {3}, a1 -> {1, 3}
    query_steps = torch.tensor([0, 0, 1, 1, 1])
    query_items = torch.tensor([3, 1, 1, 3, 7])
    assert _is_seen(batch, query_steps, query_items).tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]


def test_checkpoint_keeps_the_head_and_old_checkpoints_load_without_it(tmp_path) -> None:
    import json

    _, table, model = _train("repeat", epochs=2)
    path = model.save(tmp_path / "ckpt")
    loaded = load_checkpoint(path).attach(table)
    user = table.users()[0]
    np.testing.assert_array_equal(loaded.score_items(user), model.score_items(user))
    # A checkpoint from before the field: its config lacks repeat_head and its weights lack the head.
    _, old_table, old = _train("explore", epochs=2, repeat_head=False)
    old_path = old.save(tmp_path / "old")
    meta = json.loads((old_path / "config.json").read_text())
    del meta["config"]["repeat_head"]
    (old_path / "config.json").write_text(json.dumps(meta))
    reloaded = load_checkpoint(old_path).attach(old_table)
    assert reloaded.config.repeat_head is False
    np.testing.assert_array_equal(reloaded.score_items(old_table.users()[0]), old.score_items(old_table.users()[0]))


def test_training_loss_is_the_cross_entropy_of_the_served_scores() -> None:
    """batch_loss computes the full softmax its own (fused) way; it must equal the cross-entropy of
    ``model.scores``, the scores serving ranks by, repeat logits included. In float64 both are exact to ~1e-15
    relative over a 40-item catalog, so 1e-9 leaves room only for a wrong formula."""
    from interest_tools.forecast._model import InterestLSTM
    from interest_tools.forecast._train import batch_loss, split_chunks

    items = _items()
    table = compute_windows(_log("repeat"), items, WindowConfig(every_n_events=3))  # windows of 3 weighted items
    space = ItemSpace.from_items(items)
    view = TableView.build(table, space)
    config = REPEAT.model_copy(update={"category_loss_weight": 0.0, "interest_loss_weight": 0.0})
    torch.manual_seed(0)
    model = InterestLSTM.from_config(torch.as_tensor(_vectors()), len(space.categories), config).double().eval()
    assert model.repeat_head is not None
    torch.nn.init.normal_(model.repeat_head.weight, std=1.0)  # a repeat logit far from zero
    torch.nn.init.normal_(model.item_bias, std=1.0)
    train, _ = split_chunks(view, config.max_seq_len, 2)
    batch = make_batch(view, train, with_seen=True)
    for name in ("bag_weights", "categories", "target_weights", "target_categories"):
        setattr(batch, name, getattr(batch, name).double())
    assert len(batch.target_items) > len(batch.loss_steps)  # several target items per step
    assert len(batch.seen_step) > 0

    loss = batch_loss(model, batch, config)

    from interest_tools.forecast._batching import encode_batch

    with torch.no_grad():
        tower = model.item_tower()
        out = model.heads(encode_batch(model, tower, batch).reshape(-1, config.hidden_size)[batch.loss_steps])
    log_p = torch.log_softmax(model.scores(out, tower, batch.seen_step, batch.seen_items), dim=-1)
    expected = -(log_p[batch.target_step, batch.target_items] * batch.target_weights).sum() / len(batch.loss_steps)
    assert abs(float(out.repeat.abs().mean())) > 0.1  # type: ignore[union-attr]
    assert abs(loss.item() - expected.item()) <= 1e-9 * abs(expected.item())


def test_truncated_burn_in_reads_the_same_states_and_stops_gradients() -> None:
    """burn_in_grad=False: each chunk's burn-in steps run under no_grad, then the loss steps continue from their
    state. The loss steps' outputs must equal a full pass's (float64: the same operations in the same order, so
    1e-12), and no gradient may reach an item that appears only in burn-in steps."""
    from interest_tools.forecast._batching import encode_batch
    from interest_tools.forecast._model import InterestLSTM
    from interest_tools.forecast._train import split_chunks

    items = _items()
    table = compute_windows(_log("explore", n_events=30), items, WindowConfig(every_n_events=1))
    space = ItemSpace.from_items(items)
    view = TableView.build(table, space)
    torch.manual_seed(0)
    model = InterestLSTM.from_config(torch.as_tensor(_vectors()), len(space.categories), REPEAT).double().eval()
    train, _ = split_chunks(view, 12, 4)  # chunks of 12 windows, the last 4 with a loss: up to 8 burn-in steps
    batch = make_batch(view, train, with_seen=True)
    for name in ("bag_weights", "categories"):
        setattr(batch, name, getattr(batch, name).double())
    assert batch.first_loss is not None
    assert int(batch.first_loss.max()) == 8 and int(batch.first_loss.min()) == 0  # warm and cold chunks

    tower = model.item_tower()
    full = encode_batch(model, tower, batch).reshape(-1, REPEAT.hidden_size)[batch.loss_steps]
    cut = encode_batch(model, tower, batch, truncate=True).reshape(-1, REPEAT.hidden_size)[batch.loss_steps]
    assert (full - cut).abs().max().item() <= 1e-12 * full.abs().max().item()

    # One chunk, its input items split into burn-in only and loss steps: the tower's id vectors of the former
    # get no gradient from the truncated pass, and do from the full one.
    s, e, first = next(c for c in train if c[2] == 8)
    one = make_batch(view, [(s, e, first)], with_seen=True)
    for name in ("bag_weights", "categories"):
        setattr(one, name, getattr(one, name).double())
    burn_items = set(np.concatenate([view.items_of(r)[0] for r in range(s, s + first)]).tolist())
    loss_items = set(np.concatenate([view.items_of(r)[0] for r in range(s + first, e)]).tolist())
    only_burn = sorted(burn_items - loss_items)
    assert only_burn
    grads = {}
    for truncate in (False, True):
        model.zero_grad()
        hidden = encode_batch(model, model.item_tower(), one, truncate=truncate)
        hidden.reshape(-1, REPEAT.hidden_size)[one.loss_steps].sum().backward()
        grads[truncate] = model.item_ids.weight.grad[only_burn].abs().sum().item()  # type: ignore[index]
    assert grads[True] == 0.0
    assert grads[False] > 0.0
