"""Shared, expensive fixtures of the reliability suite (built once per session, copied per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interest_tools.data import Dataset
from interest_tools.engine import Engine
from tests.harness.stores import TINY, Zygote, clone_store, fixture_dataset, memory_engine, persistent_engine


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return fixture_dataset()


@pytest.fixture(scope="session")
def tiny_template(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Path:
    """A persistent store of the fixture data with a tiny forecaster; copy it before writing to it."""
    root = tmp_path_factory.mktemp("tiny_template") / "store"
    engine = persistent_engine(root)
    engine.build(dataset, TINY)
    engine.store.close()
    return root


@pytest.fixture
def tiny_store(tiny_template: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`tiny_template`."""
    return clone_store(tiny_template, tmp_path / "store")


@pytest.fixture(scope="session")
def mem_engine(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Engine:
    """An in-memory engine over the fixture data with a tiny forecaster (read-only use)."""
    engine = memory_engine(tmp_path_factory.mktemp("mem_engine"))
    engine.build(dataset, TINY)
    return engine


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    """A child process that forks the crash and lock jobs (imports paid once)."""
    z = Zygote()
    yield z
    z.close()
