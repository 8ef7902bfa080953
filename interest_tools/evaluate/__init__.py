"""Offline evaluation of the forecasters: the ``loo`` and ``next-window`` protocols, and a SASRec peer.

The ranking metrics themselves live with the forecaster (its training validates on them): see
:mod:`interest_tools.forecast`.
"""

from __future__ import annotations

from interest_tools.evaluate._protocols import MODELS, embed_items, run_eval
from interest_tools.evaluate._sasrec import SASRecConfig

__all__ = ["MODELS", "SASRecConfig", "embed_items", "run_eval"]
