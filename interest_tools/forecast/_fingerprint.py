"""What a forecaster's training read, as one hash: a build with the same hash keeps the trained forecaster.

The fingerprint covers the events (user, item, time, weight, kind), the window cut the LSTM reads, the item
vocabulary and the item vectors (so a changed item text counts), the embedding model and every
:class:`ForecastConfig` field that can change the weights (the progress bar cannot).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from interest_tools.forecast._profile import item_vocab_hash
from interest_tools.forecast._types import ForecastConfig

#: Bump when training changes in a way that makes old checkpoints stale although their inputs are the same.
TRAINING_VERSION = 2
_EVENT_COLUMNS = ("user_id", "item_id", "timestamp", "weight", "event")


def events_fingerprint(events: pd.DataFrame) -> str:
    """Hash of the events' user, item, time, weight and kind, in row order."""
    cols = [c for c in _EVENT_COLUMNS if c in events.columns]
    hashed = pd.util.hash_pandas_object(events[cols].astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:32]


def training_fingerprint(
    events: pd.DataFrame,
    items: pd.DataFrame,
    item_vectors: np.ndarray,
    window_label: str,
    embedding_model: str,
    config: ForecastConfig,
) -> str:
    """One hash of every input of training (see the module docstring)."""
    parts = {
        "version": TRAINING_VERSION,
        "events": events_fingerprint(events),
        "window": window_label,
        "items": item_vocab_hash(items["item_id"].astype(str).tolist()),
        "vectors": hashlib.sha256(np.ascontiguousarray(item_vectors, dtype=np.float32).tobytes()).hexdigest()[:32],
        "embedding_model": embedding_model,
        "config": config.model_dump(mode="json", exclude={"show_progress"}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
