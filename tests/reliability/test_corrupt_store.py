"""Promise 5: a damaged store or one built with another embedding model gives a StoreError with the fix.

Raw Chroma, on the same damage, answers queries silently wrong (a truncated HNSW header), raises its internal
errors, panics (a ``BaseException``), or segfaults the process (garbage in ``data_level0.bin``). Truncation is
caught in-process before Chroma opens the files; the rest by ``Engine.health_check()``, which opens the store
in a child process, so that the caller survives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.data import Dataset
from interest_tools.engine import Engine
from interest_tools.errors import StoreError
from tests.harness.stores import NO_FORECAST, clone_store, make_items, persistent_engine

N_ITEMS = 1200  # above Chroma's HNSW sync threshold (1000), so the vector segment files hold real data


@pytest.fixture(scope="module")
def big_template(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Path:
    base = make_items()
    extra = pd.DataFrame(
        {
            "item_id": [f"x{i:05d}" for i in range(N_ITEMS - len(base))],
            "title": [f"Extra Film {i}" for i in range(N_ITEMS - len(base))],
            "categories": [["Drama"]] * (N_ITEMS - len(base)),
            "description": [""] * (N_ITEMS - len(base)),
        }
    )
    items = pd.concat([base, extra], ignore_index=True)
    root = tmp_path_factory.mktemp("big") / "store"
    engine = persistent_engine(root)
    engine.build(Dataset(events=dataset.events, items=items, name="fixture"), NO_FORECAST)
    engine.store.close()
    return root


def _items_segment(root: Path) -> Path:
    """The HNSW segment directory of the items collection (the one holding vectors on disk)."""
    segments = [
        p.parent
        for p in (root / "chroma").glob("*/header.bin")
        if (p.parent / "data_level0.bin").stat().st_size > 100_000
    ]
    assert len(segments) == 1, segments
    return segments[0]


def _truncate(path: Path, size: int | None = None) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if size is None else size])


def _garble(path: Path, offset: int = 0, length: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    end = len(data) if length is None else offset + length
    data[offset:end] = np.random.default_rng(0).integers(0, 256, end - offset, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


TRUNCATIONS: dict[str, Callable[[Path], None]] = {
    "sqlite-half": lambda root: _truncate(root / "chroma" / "chroma.sqlite3"),
    "sqlite-empty": lambda root: _truncate(root / "chroma" / "chroma.sqlite3", 0),
    "hnsw-header": lambda root: _truncate(_items_segment(root) / "header.bin", 7),
    "hnsw-data": lambda root: _truncate(_items_segment(root) / "data_level0.bin"),
    "hnsw-links": lambda root: _truncate(_items_segment(root) / "link_lists.bin"),
}


@pytest.mark.parametrize("damage", list(TRUNCATIONS))
def test_truncated_files_give_store_error_in_process(damage: str, big_template: Path, tmp_path: Path) -> None:
    root = clone_store(big_template, tmp_path / "store")
    TRUNCATIONS[damage](root)
    engine = persistent_engine(root)
    with pytest.raises(StoreError) as info:
        engine.store.query_items(text="Sci-Fi", k=3)
    message = str(info.value)
    assert "damaged" in message and ("truncated" in message or "empty" in message), message
    assert "Fix:" in message and "interest-tools build" in message
    report = engine.health_check(deep=False, raise_on_problem=False)
    assert not report["ok"] and any("Fix:" in p for p in report["problems"])


@pytest.mark.parametrize(
    "damage",
    [
        "hnsw-data-garbage",  # raw Chroma segfaults on the first query
        "sqlite-garbage",  # raw Chroma panics (PanicException is a BaseException)
    ],
)
def test_damage_that_crashes_chroma_is_reported_by_the_health_check(
    damage: str, big_template: Path, tmp_path: Path
) -> None:
    root = clone_store(big_template, tmp_path / "store")
    if damage == "hnsw-data-garbage":
        _garble(_items_segment(root) / "data_level0.bin")
    else:
        _garble(root / "chroma" / "chroma.sqlite3", offset=8192, length=4096)
    engine = persistent_engine(root)
    with pytest.raises(StoreError) as info:
        engine.health_check(timeout_s=120)  # the check opens the store in a child; this process survives
    message = str(info.value)
    assert "failed its health check" in message and "Fix:" in message
    print(f"{damage}: {message[:400]}")


def test_healthy_store_passes_the_deep_check(big_template: Path, tmp_path: Path) -> None:
    root = clone_store(big_template, tmp_path / "store")
    report = persistent_engine(root).health_check()
    assert report["ok"] and report["counts"] == {"items": N_ITEMS, "windows": 36}


def test_store_built_with_another_embedding_model_is_refused_before_any_write(
    big_template: Path, tmp_path: Path
) -> None:
    root = clone_store(big_template, tmp_path / "store")
    other = persistent_engine(root, embeddings=DeterministicFakeEmbedding(size=32))
    with pytest.raises(StoreError) as info:
        other.search_history("u1", "documentary")
    message = str(info.value)
    assert "DeterministicFakeEmbedding-16" in message and "DeterministicFakeEmbedding-32" in message
    assert "nothing was written" in message and "Fix:" in message
    with pytest.raises(StoreError, match="DeterministicFakeEmbedding-16"):
        other.health_check(deep=True)
    assert persistent_engine(root).health_check(deep=False)["ok"]  # the store itself is untouched


def test_damaged_state_file_gives_store_error(tiny_store: Path) -> None:
    _truncate(tiny_store / "data" / "events.parquet")
    engine = persistent_engine(tiny_store)
    with pytest.raises(StoreError, match=r"events.parquet is unreadable.*Fix: rebuild"):
        engine.user_windows("u1")


class PanicException(BaseException):
    """Stands in for pyo3's PanicException (same name, also a BaseException): what Chroma's Rust core raises."""


@pytest.mark.parametrize("raised", [PanicException("Expect it to be fetched"), "internal"])
def test_chroma_panics_and_internal_errors_become_store_error(
    raised: BaseException | str, mem_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.api.models.Collection import Collection
    from chromadb.errors import InternalError

    error = InternalError("Error executing plan: Internal error: Error finding id") if raised == "internal" else raised

    def broken(*args: object, **kwargs: object) -> None:
        raise error  # type: ignore[misc]

    monkeypatch.setattr(Collection, "query", broken)
    with pytest.raises(StoreError, match=r"Chroma failed during query\(\).*may be damaged.*Fix:"):
        mem_engine.search_history("u1", "documentary")
