"""Small synthetic data shared by unit and integration tests (import as ``from tests.harness.data import ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from interest_tools.engine import Engine


def make_items() -> pd.DataFrame:
    """Twelve items over four categories (3 each), canonical form."""
    cats = ["Sci-Fi", "Comedy", "Horror", "Documentary"]
    rows = []
    for i in range(12):
        c = cats[i // 3]
        rows.append(
            {
                "item_id": f"i{i:02d}",
                "title": f"{c} Film {i}",
                "categories": [c] if i % 3 else [c, "Drama"],
                "description": f"A {c.lower()} story number {i}.",
            }
        )
    return pd.DataFrame(rows)


def make_events(seed: int = 0) -> pd.DataFrame:
    """Three users over 2020: u1 moves from Sci-Fi to Documentary in July, u2 stays Comedy, u3 alternates."""
    rng = np.random.default_rng(seed)
    rows = []
    for month in range(1, 13):
        for day in (3, 10, 17):
            ts = pd.Timestamp(2020, month, day, 12, tz="UTC")
            u1_cat = 0 if month <= 6 else 3
            rows.append(("u1", f"i{u1_cat * 3 + int(rng.integers(0, 3)):02d}", ts, float(rng.integers(3, 6))))
            rows.append(("u2", f"i{3 + int(rng.integers(0, 3)):02d}", ts, float(rng.integers(2, 6))))
            u3_cat = 0 if month % 2 else 2
            rows.append(("u3", f"i{u3_cat * 3 + int(rng.integers(0, 3)):02d}", ts, 4.0))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])
    frame["weight"] = 1.0
    frame["event"] = "rating"
    frame["text"] = ""
    return frame


def build_engine(root: Path) -> Engine:
    """The fixture dataset (u1 Sci-Fi -> Documentary in July 2020, u2 Comedy, u3 alternating), fake embeddings."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from interest_tools.data import Dataset, canonicalize_events
    from interest_tools.engine import Engine
    from interest_tools.forecast import ForecastConfig
    from interest_tools.pipeline import BuildConfig
    from interest_tools.settings import Settings
    from interest_tools.store import InterestStore

    emb = DeterministicFakeEmbedding(size=16)
    engine = Engine(Settings(store_path=root), embeddings=emb, store=InterestStore.in_memory(emb))
    data = Dataset(events=canonicalize_events(make_events()), items=make_items(), name="synthetic")
    engine.build(data, BuildConfig(forecast=ForecastConfig(epochs=2, hidden_size=8, item_dim=8)))
    return engine
