"""interest-tools: how a person's interests change over time, and what to suggest next, as agent tools."""

from __future__ import annotations

from interest_tools.data import Dataset, load_dataset, load_events, load_items
from interest_tools.datasets import load_movielens_small
from interest_tools.errors import InterestToolsError
from interest_tools.windows import Window, WindowConfig, WindowTable, compute_windows

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "InterestToolsError",
    "Window",
    "WindowConfig",
    "WindowTable",
    "__version__",
    "compute_windows",
    "load_dataset",
    "load_events",
    "load_items",
    "load_movielens_small",
]
