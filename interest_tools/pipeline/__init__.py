"""Build and maintain a store: build, ingest, forget, compact and health checks.

Every function takes a :class:`Workspace` (store root, settings, embeddings, chat model, locks and the open
Chroma handle), never the :class:`~interest_tools.engine.Engine`; the engine is the only caller and clears its
own caches afterwards.
"""

from __future__ import annotations

from interest_tools.pipeline._build import BuildConfig, BuildReport, Progress, build, ingest, window_config_from_label
from interest_tools.pipeline._health import health_report
from interest_tools.pipeline._maintenance import compact, forget_user
from interest_tools.pipeline._ray import RayConfig
from interest_tools.pipeline._wording import noun_for_dataset
from interest_tools.pipeline._workspace import Workspace

__all__ = [
    "BuildConfig",
    "BuildReport",
    "Progress",
    "RayConfig",
    "Workspace",
    "build",
    "compact",
    "forget_user",
    "health_report",
    "ingest",
    "noun_for_dataset",
    "window_config_from_label",
]
