"""Forecast each user's next window: an LSTM over their windows, and baselines behind one protocol."""

from __future__ import annotations

from interest_tools.forecast.baselines import (
    BASELINES,
    EMAForecaster,
    LastWindowForecaster,
    PopularityForecaster,
)
from interest_tools.forecast.checkpoint import load_checkpoint, save_checkpoint
from interest_tools.forecast.lstm import LSTMForecaster
from interest_tools.forecast.profile import item_vocab_hash
from interest_tools.forecast.train import train_forecaster
from interest_tools.forecast.types import CategoryShift, Forecast, ForecastConfig, Forecaster, NextWindow

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
