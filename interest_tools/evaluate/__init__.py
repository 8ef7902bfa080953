"""Offline evaluation of the forecasters: protocols (``loo``, ``next-window``) and ranking metrics."""

from __future__ import annotations

from interest_tools.evaluate.metrics import METRIC_NAMES, catalog_coverage, ranking_metrics, top_k
from interest_tools.evaluate.protocols import MODELS, embed_items, run_eval

__all__ = ["METRIC_NAMES", "MODELS", "catalog_coverage", "embed_items", "ranking_metrics", "run_eval", "top_k"]
