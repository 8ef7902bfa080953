"""Checkpoints: safetensors + JSON round trip, mismatches, and refusal of pickles."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interest_tools.errors import CheckpointError
from interest_tools.forecast import (
    ForecastConfig,
    LSTMForecaster,
    item_vocab_hash,
    load_checkpoint,
    save_checkpoint,
    train_forecaster,
)
from interest_tools.windows import WindowConfig, compute_windows

CFG = ForecastConfig(item_dim=4, hidden_size=8, epochs=2, negatives=0, dropout=0.0, seed=1, num_threads=1)


@pytest.fixture(scope="module")
def trained():
    from interest_tools.data import canonicalize_events
    from tests.harness.data import make_events, make_items

    items = make_items()
    events = canonicalize_events(make_events())
    table = compute_windows(events, items, WindowConfig(freq="month"))
    vectors = np.random.default_rng(0).standard_normal((len(items), 6)).astype(np.float32)
    model = train_forecaster(table, items, vectors, CFG, embedding_model="fake-6")
    return items, table, model


class Boom:
    """Unpickling this writes a marker file: proof that something unpickled it."""

    marker: Path

    def __reduce__(self):
        return (Path.write_text, (self.marker, "unpickled!"))


def test_round_trip(trained, tmp_path: Path) -> None:
    items, table, model = trained
    save_checkpoint(model, tmp_path / "ck")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_checkpoint(
        tmp_path / "ck",
        expected_item_vocab_hash=item_vocab_hash(items["item_id"].tolist()),
        expected_embedding_model="fake-6",
        expected_dim=6,
    )
    assert loaded.config == model.config
    loaded.attach(table)
    np.testing.assert_allclose(loaded.score_items("u1"), model.score_items("u1"), rtol=1e-6)
    assert loaded.forecast("u3").to_json() == model.forecast("u3").to_json()
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert meta["embedding_model"] == "fake-6" and meta["embedding_dim"] == 6
    assert meta["categories"] == sorted(meta["categories"]) and "Sci-Fi" in meta["categories"]
    assert meta["window_config"]["freq"] == "month" and meta["config"]["hidden_size"] == 8
    assert meta["item_vocab_hash"] == item_vocab_hash(items["item_id"].tolist())
    model.save(tmp_path / "again")  # the method form
    assert (tmp_path / "again" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"expected_item_vocab_hash": "0" * 32}, "item vocabulary hash"),
        ({"expected_embedding_model": "all-MiniLM-L6-v2"}, "embedding model"),
        ({"expected_dim": 384}, "embedding dimension"),
    ],
)
def test_mismatch_is_a_clear_error(trained, tmp_path: Path, kwargs: dict, what: str) -> None:
    save_checkpoint(trained[2], tmp_path)
    with pytest.raises(CheckpointError, match=f"checkpoint {what} is .* but .* was expected.*retrain"):
        load_checkpoint(tmp_path, **kwargs)


def test_planted_pickle_is_refused(trained, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    boom = Boom()
    boom.marker = marker
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "model.pt").write_bytes(pickle.dumps(boom))
    (ck / "pytorch_model.bin").write_bytes(pickle.dumps(boom))
    with pytest.raises(CheckpointError, match="pickle-based files are never loaded"):
        load_checkpoint(ck)
    # A pickle under the safetensors name, beside a valid config, is not unpickled either.
    save_checkpoint(trained[2], ck)
    (ck / "model.safetensors").write_bytes(pickle.dumps(boom))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(ck)
    assert not marker.exists()


def test_missing_and_corrupt(trained, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint directory"):
        load_checkpoint(tmp_path / "nope")
    save_checkpoint(trained[2], tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not an interest-tools LSTM forecaster checkpoint"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="untrained"):
        save_checkpoint(LSTMForecaster(), tmp_path / "x")


def test_loaded_checkpoint_needs_windows(trained, tmp_path: Path) -> None:
    from interest_tools.errors import NotBuiltError

    save_checkpoint(trained[2], tmp_path)
    loaded = load_checkpoint(tmp_path)
    with pytest.raises(NotBuiltError, match="attach"):
        loaded.forecast("u1")
    assert loaded.forecast("u1", trained[1]).model == "lstm"


def test_no_pickle_or_torch_load_in_the_package() -> None:
    import interest_tools.forecast as pkg

    for path in Path(pkg.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "torch.load(" not in text and "import pickle" not in text, path.name


def test_item_vocab_hash_is_order_sensitive() -> None:
    ids = pd.Series(["a", "b", "c"])
    assert item_vocab_hash(ids.tolist()) == item_vocab_hash(np.array(["a", "b", "c"], dtype=object))
    assert item_vocab_hash(["a", "b", "c"]) != item_vocab_hash(["b", "a", "c"])
    assert item_vocab_hash(["ab", "c"]) != item_vocab_hash(["a", "bc"])
