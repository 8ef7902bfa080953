"""interest-tools: how a person's interests change over time, and what to suggest next, as agent tools.

The public API, loaded lazily (``import interest_tools`` is cheap; a name's stage loads on first use):

- :class:`Engine` (build, ingest and answer over one store) and :class:`Settings` (deployment);
- loaders: :func:`load_events`, :func:`load_items`, :func:`load_dataset`, :func:`load_movielens_small`,
  :class:`Dataset`, and :func:`compute_windows`;
- one config per stage: :class:`WindowConfig`, :class:`SummaryConfig`, :class:`EmbedConfig`, :class:`StoreConfig`,
  :class:`ForecastConfig`, :class:`RecommendConfig`, :class:`ExplainConfig`, :class:`ReportConfig`,
  :class:`BuildConfig`, :class:`RayConfig`;
- result models: :class:`Window`, :class:`WindowTable`, :class:`WindowSummary`, :class:`WindowHit`,
  :class:`Forecast`, :class:`Recommendations`, :class:`RecommendedItem`, :class:`Explanation`,
  :class:`HistoryAsOf`, :class:`BuildReport`;
- errors: :class:`InterestToolsError` and its subclasses.

The agent adapters (LangChain toolkit, MCP server, CLI) are in :mod:`interest_tools.adapters`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from interest_tools._version import __version__

if TYPE_CHECKING:
    from interest_tools.data import Dataset, load_dataset, load_events, load_items
    from interest_tools.datasets import load_movielens_small
    from interest_tools.engine import Engine
    from interest_tools.errors import (
        CheckpointError,
        ConfigError,
        DataValidationError,
        DateRangeError,
        InterestToolsError,
        NotBuiltError,
        StoreError,
        UnknownUserError,
    )
    from interest_tools.explain import ExplainConfig, Explanation, HistoryAsOf
    from interest_tools.forecast import Forecast, ForecastConfig
    from interest_tools.pipeline import BuildConfig, BuildReport, RayConfig
    from interest_tools.recommend import Recommendations, RecommendConfig, RecommendedItem
    from interest_tools.report import ReportConfig
    from interest_tools.settings import Settings
    from interest_tools.store import EmbedConfig, StoreConfig, WindowHit
    from interest_tools.summaries import SummaryConfig, WindowSummary
    from interest_tools.windows import Window, WindowConfig, WindowTable, compute_windows

_HOMES: dict[str, str] = {
    "Engine": "engine",
    "Settings": "settings",
    "Dataset": "data",
    "load_dataset": "data",
    "load_events": "data",
    "load_items": "data",
    "load_movielens_small": "datasets",
    "compute_windows": "windows",
    "Window": "windows",
    "WindowConfig": "windows",
    "WindowTable": "windows",
    "SummaryConfig": "summaries",
    "WindowSummary": "summaries",
    "EmbedConfig": "store",
    "StoreConfig": "store",
    "WindowHit": "store",
    "Forecast": "forecast",
    "ForecastConfig": "forecast",
    "RecommendConfig": "recommend",
    "RecommendedItem": "recommend",
    "Recommendations": "recommend",
    "ExplainConfig": "explain",
    "Explanation": "explain",
    "HistoryAsOf": "explain",
    "ReportConfig": "report",
    "BuildConfig": "pipeline",
    "BuildReport": "pipeline",
    "RayConfig": "pipeline",
    "InterestToolsError": "errors",
    "CheckpointError": "errors",
    "ConfigError": "errors",
    "DataValidationError": "errors",
    "DateRangeError": "errors",
    "NotBuiltError": "errors",
    "StoreError": "errors",
    "UnknownUserError": "errors",
}

__all__ = [
    "BuildConfig",
    "BuildReport",
    "CheckpointError",
    "ConfigError",
    "DataValidationError",
    "Dataset",
    "DateRangeError",
    "EmbedConfig",
    "Engine",
    "ExplainConfig",
    "Explanation",
    "Forecast",
    "ForecastConfig",
    "HistoryAsOf",
    "InterestToolsError",
    "NotBuiltError",
    "RayConfig",
    "RecommendConfig",
    "Recommendations",
    "RecommendedItem",
    "ReportConfig",
    "Settings",
    "StoreConfig",
    "StoreError",
    "SummaryConfig",
    "UnknownUserError",
    "Window",
    "WindowConfig",
    "WindowHit",
    "WindowSummary",
    "WindowTable",
    "__version__",
    "compute_windows",
    "load_dataset",
    "load_events",
    "load_items",
    "load_movielens_small",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
