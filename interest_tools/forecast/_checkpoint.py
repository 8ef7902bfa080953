"""Save and load LSTM forecasters as ``model.safetensors`` (weights) + ``config.json`` (everything else).

Nothing is ever unpickled: only those two files are read, with ``safetensors`` and ``json``. The JSON records
the hyperparameters, the item vocabulary (ids and hash), the embedding model name and dimension, the category
vocabulary and the window cut. Loading checks what the caller expects and raises :class:`CheckpointError` on
any mismatch.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from interest_tools.errors import CheckpointError
from interest_tools.forecast._lstm import LSTMForecaster
from interest_tools.forecast._model import InterestLSTM
from interest_tools.forecast._profile import ItemSpace, item_vocab_hash
from interest_tools.forecast._types import ForecastConfig

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "interest-tools/lstm-forecaster"
VERSION = 1
_UNSAFE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib")


def save_checkpoint(forecaster: LSTMForecaster, directory: str | Path, *, scratch_prefix: str = "tmp") -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory`` (created; files replaced atomically).

    The files are first written into a temporary folder in ``directory`` whose name starts with
    ``scratch_prefix`` (a store passes its own, so that only its leftovers are ever cleaned up).

    Raises:
        CheckpointError: The forecaster is not trained.
    """
    if forecaster.model is None or forecaster.space is None:
        raise CheckpointError("cannot save an untrained forecaster: train it first (train_forecaster)")
    model, space = forecaster.model, forecaster.space
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "config": forecaster.config.model_dump(mode="json"),
        "item_vocab_hash": space.vocab_hash,
        "n_items": space.n_items,
        "item_ids": [str(i) for i in space.item_ids],
        "embedding_model": forecaster.embedding_model,
        "embedding_dim": model.text_dim,
        "categories": list(space.categories),
        "window_config": forecaster.window_config.model_dump(mode="json") if forecaster.window_config else None,
        "training_fingerprint": forecaster.training_fingerprint,
        "serving_model": forecaster.serving_model,
        "baseline_val_ndcg@10": forecaster.baseline_val,
        "item_categories": space.item_categories,
        "training": {
            "best_epoch": forecaster.best_epoch,
            "best_val_ndcg@10": forecaster.best_val_ndcg,
            "stop_reason": forecaster.stop_reason,
            "log": forecaster.training_log,
        },
    }
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory(dir=directory, prefix=scratch_prefix) as tmp:
        save_file(state, os.path.join(tmp, WEIGHTS), metadata={"format": FORMAT})
        Path(tmp, CONFIG).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(os.path.join(tmp, WEIGHTS), directory / WEIGHTS)
        os.replace(os.path.join(tmp, CONFIG), directory / CONFIG)
    return directory


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{directory}: no {CONFIG}; save a checkpoint there first (save_checkpoint)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc}); re-save the checkpoint") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an interest-tools LSTM forecaster checkpoint (format {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta.get('version')} is not {VERSION}; retrain")
    return meta


def _check(meta: dict[str, Any], directory: Path, expected: dict[str, Any]) -> None:
    stored = {
        "item vocabulary hash": meta.get("item_vocab_hash"),
        "embedding model": meta.get("embedding_model"),
        "embedding dimension": meta.get("embedding_dim"),
    }
    for what, want in expected.items():
        if want is not None and stored[what] != want:
            raise CheckpointError(
                f"{directory}: checkpoint {what} is {stored[what]!r} but {want!r} was expected; the checkpoint was "
                "trained on another catalog or embedding model: retrain the forecaster (interest-tools build)"
            )
    ids = meta.get("item_ids")
    if not isinstance(ids, list) or item_vocab_hash(ids) != meta.get("item_vocab_hash"):
        raise CheckpointError(f"{directory / CONFIG}: item_ids do not match item_vocab_hash; the file is corrupt")


def stored_fingerprint(directory: str | Path) -> str | None:
    """The ``training_fingerprint`` of the checkpoint in ``directory`` (reads only its JSON); None if absent.

    A missing, unreadable or weightless checkpoint gives None, so that the caller retrains.
    """
    directory = Path(directory)
    if not (directory / WEIGHTS).is_file():
        return None
    try:
        meta = _read_meta(directory)
    except CheckpointError:
        return None
    value = meta.get("training_fingerprint")
    return str(value) if value else None


def load_checkpoint(
    directory: str | Path,
    expected_item_vocab_hash: str | None = None,
    expected_embedding_model: str | None = None,
    expected_dim: int | None = None,
) -> LSTMForecaster:
    """Load a forecaster saved by :func:`save_checkpoint` (not yet attached to windows: call ``attach``).

    Args:
        directory: The checkpoint directory.
        expected_item_vocab_hash: The current catalog's ``item_vocab_hash``; None skips the check.
        expected_embedding_model: The current embedding model name; None skips the check.
        expected_dim: The current embedding dimension; None skips the check.

    Raises:
        CheckpointError: Missing, unsafe (only pickles present), corrupt or mismatched checkpoint.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such checkpoint directory; train and save a forecaster first")
    weights = directory / WEIGHTS
    if not weights.is_file():
        unsafe = sorted(p.name for p in directory.iterdir() if p.suffix.lower() in _UNSAFE_SUFFIXES)
        hint = f" Found {unsafe}: pickle-based files are never loaded." if unsafe else ""
        raise CheckpointError(f"{directory}: no {WEIGHTS}.{hint} Retrain and save with save_checkpoint.")
    meta = _read_meta(directory)
    _check(
        meta,
        directory,
        {
            "item vocabulary hash": expected_item_vocab_hash,
            "embedding model": expected_embedding_model,
            "embedding dimension": expected_dim,
        },
    )
    try:
        stored = dict(meta["config"])
        stored.setdefault("layer_norm", False)  # checkpoints from before these fields had neither
        stored.setdefault("repeat_head", False)
        stored.setdefault("summary_input", False)
        config = ForecastConfig.model_validate(stored)
        categories = [str(c) for c in meta["categories"]]
    except (KeyError, TypeError, ValidationError) as exc:
        raise CheckpointError(f"{directory / CONFIG}: bad config ({exc}); re-save the checkpoint") from exc
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc}); re-save the checkpoint") from exc
    text = state.get("text_vectors")
    if text is None or tuple(text.shape) != (meta["n_items"], meta["embedding_dim"]):
        raise CheckpointError(f"{weights}: weights do not match {CONFIG} (item or dimension count); re-save")
    model = InterestLSTM.from_config(torch.zeros(text.shape), len(categories), config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights}: weights do not fit the configured model ({exc}); re-save") from exc
    item_categories = [[int(c) for c in codes] for codes in meta.get("item_categories") or []]
    space = ItemSpace(
        item_ids=np.asarray(meta["item_ids"], dtype=object), categories=categories, item_categories=item_categories
    )
    forecaster = LSTMForecaster(config, embedding_model=str(meta["embedding_model"]))
    training = meta.get("training") or {}
    forecaster.set_trained(
        model.to(config.device),
        space,
        None,
        list(training.get("log", [])),
        int(training.get("best_epoch", 0)),
        float(training.get("best_val_ndcg@10", 0.0)),
    )
    forecaster.stop_reason = str(training.get("stop_reason", ""))
    forecaster.training_fingerprint = meta.get("training_fingerprint")
    forecaster.baseline_val = {str(k): float(v) for k, v in (meta.get("baseline_val_ndcg@10") or {}).items()}
    serving = str(meta.get("serving_model") or "lstm")
    if serving != "lstm" and not item_categories:
        raise CheckpointError(f"{directory / CONFIG}: serves '{serving}' but has no item_categories; retrain")
    forecaster.serving_model = serving
    return forecaster
