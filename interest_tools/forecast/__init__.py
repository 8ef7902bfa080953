"""Forecast each user's next window: an LSTM over their windows, and baselines behind one protocol.

``train_forecaster`` is imported on first use, so that serving (loading a checkpoint and forecasting) never
imports the training code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interest_tools.forecast.baselines import (
    BASELINES,
    EMAForecaster,
    LastWindowForecaster,
    PopularityForecaster,
)
from interest_tools.forecast.checkpoint import load_checkpoint, save_checkpoint
from interest_tools.forecast.lstm import LSTMForecaster
from interest_tools.forecast.profile import item_vocab_hash
from interest_tools.forecast.types import CategoryShift, Forecast, ForecastConfig, Forecaster, NextWindow

if TYPE_CHECKING:
    from interest_tools.forecast.train import train_forecaster

__all__ = [
    "BASELINES",
    "CategoryShift",
    "EMAForecaster",
    "Forecast",
    "ForecastConfig",
    "Forecaster",
    "LSTMForecaster",
    "LastWindowForecaster",
    "NextWindow",
    "PopularityForecaster",
    "item_vocab_hash",
    "load_checkpoint",
    "save_checkpoint",
    "train_forecaster",
]


def __getattr__(name: str) -> Any:
    if name == "train_forecaster":
        from interest_tools.forecast.train import train_forecaster

        return train_forecaster
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
