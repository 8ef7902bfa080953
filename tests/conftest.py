"""Shared fixtures: small synthetic data for unit tests, the bundled dataset once per session for integration."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import settings

from tests.harness.data import make_events, make_items

# In CI every property test draws the same examples on every run (a failure there is reproducible, never a
# flake); on a developer's machine Hypothesis explores new examples each run.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def items() -> pd.DataFrame:
    return make_items()


@pytest.fixture
def events() -> pd.DataFrame:
    from interest_tools.data import canonicalize_events

    return canonicalize_events(make_events())


@pytest.fixture(scope="session")
def movielens():
    from interest_tools.datasets import load_movielens_small

    return load_movielens_small()
