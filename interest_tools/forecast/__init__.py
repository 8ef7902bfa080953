"""Forecast each user's next window: an LSTM over their windows, and baselines behind one protocol.

``train_forecaster`` is imported on first use, so that serving (loading a checkpoint and forecasting) never
imports the training code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interest_tools.forecast._baselines import (
    BASELINES,
    EMAForecaster,
    LastWindowForecaster,
    PopularityForecaster,
)
from interest_tools.forecast._checkpoint import load_checkpoint, save_checkpoint, stored_fingerprint
from interest_tools.forecast._context import summary_context
from interest_tools.forecast._fingerprint import training_fingerprint
from interest_tools.forecast._framing import frame_forecast
from interest_tools.forecast._lstm import LSTMForecaster
from interest_tools.forecast._metrics import METRIC_NAMES, catalog_coverage, per_user_metrics, ranking_metrics, top_k
from interest_tools.forecast._model import InterestLSTM
from interest_tools.forecast._profile import ItemSpace, TableView, item_vocab_hash
from interest_tools.forecast._types import CategoryShift, Forecast, ForecastConfig, Forecaster, NextWindow

if TYPE_CHECKING:
    from interest_tools.forecast._train import train_forecaster

__all__ = [
    "BASELINES",
    "METRIC_NAMES",
    "CategoryShift",
    "EMAForecaster",
    "Forecast",
    "ForecastConfig",
    "Forecaster",
    "InterestLSTM",
    "ItemSpace",
    "LSTMForecaster",
    "LastWindowForecaster",
    "NextWindow",
    "PopularityForecaster",
    "TableView",
    "catalog_coverage",
    "frame_forecast",
    "item_vocab_hash",
    "load_checkpoint",
    "per_user_metrics",
    "ranking_metrics",
    "save_checkpoint",
    "stored_fingerprint",
    "summary_context",
    "top_k",
    "train_forecaster",
    "training_fingerprint",
]


def __getattr__(name: str) -> Any:
    if name == "train_forecaster":
        from interest_tools.forecast._train import train_forecaster

        return train_forecaster
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
