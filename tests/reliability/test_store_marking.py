"""Promise: writers touch only a store, and in a store only the names it made itself.

A store is marked by ``store.json`` (written first); every writer refuses (exit 2 in the CLI) a directory that is
neither empty nor a store, and a ``--store`` that is a file. Temporary names carry the store's ``scratch_tag``;
only those are cleaned up. A store built before marking is recognised by its own files and marked by its first
write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from interest_tools.data import Dataset
from interest_tools.engine import Engine
from interest_tools.errors import InterestToolsError, NotBuiltError, StoreError
from tests.harness.stores import NO_FORECAST, REPO, TINY, new_events, persistent_engine


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _theirs(root: Path) -> list[Path]:
    """Files and folders a person keeps in ``root`` whose names look like a writer's leftovers."""
    paths = [
        root / ".draft.tmp",
        root / "data" / ".notes.tmp",
        root / "models" / "forecaster" / "tmp-notes.txt",
        root / "models" / "forecaster" / "tmpab12cd34" / "weights.bin",  # named like a TemporaryDirectory
        root / "chroma.old-backup" / "notes.txt",
        root / "chroma.compact-mine" / "notes.txt",
    ]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine")
    return paths


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "COLUMNS": "200"}
    command = [sys.executable, "-m", "interest_tools.adapters.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


def test_cli_writers_refuse_a_folder_that_is_no_store_and_a_file(tmp_path: Path) -> None:
    """The issue's repro: ``ingest --store x`` deleted x/.draft.tmp and x/models/forecaster/tmp-notes.txt."""
    folder = tmp_path / "x"
    _theirs(folder)
    events = tmp_path / "new.csv"
    new_events().to_csv(events, index=False)
    before = _tree(folder)
    run = _cli(["ingest", "--events", str(events), "--store", str(folder)])
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert f"{folder} is not an interest-tools store" in run.stderr and ".draft.tmp" in run.stderr
    assert _tree(folder) == before  # nothing deleted, nothing created (not even the lock file)

    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    run = _cli(["ingest", "--events", str(events), "--store", str(a_file)])
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "is a file, not a directory" in run.stderr
    assert a_file.read_text() == "mine"


WRITES: dict[str, Callable[[Engine, Dataset], object]] = {
    "build": lambda e, d: e.build(d, NO_FORECAST),
    "ingest": lambda e, d: e.ingest(new_events()),
    "forget": lambda e, d: e.forget_user("u1"),
    "feedback": lambda e, d: e.add_feedback("u1", "no_more_category", category="Comedy"),
    "compact": lambda e, d: e.compact(),
    "open Chroma": lambda e, d: e.store,
}


@pytest.mark.parametrize("write", list(WRITES))
def test_every_writer_leaves_a_folder_that_is_no_store_as_it_was(tmp_path: Path, dataset: Dataset, write: str) -> None:
    folder = tmp_path / "home"
    _theirs(folder)
    before = _tree(folder)
    expected = (NotBuiltError,) if write in ("forget", "feedback") else (StoreError,)  # no user there at all
    with pytest.raises(expected) as info:
        WRITES[write](persistent_engine(folder), dataset)
    if isinstance(info.value, StoreError):
        assert "is not an interest-tools store" in str(info.value) and "Fix:" in str(info.value)
    assert _tree(folder) == before


def test_in_a_store_only_its_own_temporary_names_are_cleaned_up(tiny_store: Path, dataset: Dataset) -> None:
    tag = json.loads((tiny_store / "store.json").read_text())["scratch_tag"]
    theirs = _theirs(tiny_store)
    ours = [
        tiny_store / f".state.json.{tag}-99.tmp",
        tiny_store / "data" / f".events.parquet.{tag}-99.tmp",
        tiny_store / "models" / "forecaster" / f".scratch-{tag}-x" / "model.safetensors",
        tiny_store / f"chroma.compact-{tag}-0123456789ab" / "chroma.sqlite3",
    ]
    for path in ours:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    engine = persistent_engine(tiny_store)
    engine.ingest(new_events())  # takes the lock: the store's own leftovers go
    assert not any(p.exists() for p in ours[:3])
    engine.build(dataset, TINY)  # trains and saves the forecaster through a tagged temporary folder
    engine.forget_user("u3")
    assert engine.compact()["compacted"]
    assert not ours[3].parent.exists()
    assert all(p.read_text() == "mine" for p in theirs)
    leftovers = [p.name for p in tiny_store.rglob("*") if tag in p.name]
    assert leftovers == []


def test_a_store_built_before_marking_opens_and_is_marked_by_its_first_write(tiny_store: Path) -> None:
    (tiny_store / "store.json").unlink()  # what an older version of the package left
    draft = tiny_store / ".draft.tmp"
    draft.write_text("mine")
    reader = persistent_engine(tiny_store)
    assert len(reader.user_summaries("u1")) == 12 and reader.search_history("u1", "documentary", 2)
    assert not (tiny_store / "store.json").exists()  # reading writes nothing
    reader.store.close()

    writer = persistent_engine(tiny_store)
    assert writer.ingest(new_events()).users_touched == 1
    marker = json.loads((tiny_store / "store.json").read_text())
    assert marker["format"] == "interest-tools-store" and marker["version"] == 1
    assert draft.read_text() == "mine"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "interest-tools-store", "version": 99, "scratch_tag": "0123456789ab", "created_at": '
         '"2030-01-01T00:00:00Z"}', "Fix: upgrade interest-tools"),
        ('{"name": "my app settings"}', "is not an interest-tools store marker"),
    ],
)  # fmt: skip
def test_a_newer_or_foreign_store_json_is_refused(tmp_path: Path, dataset: Dataset, content: str, message: str) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "store.json").write_text(content)
    before = _tree(folder)
    with pytest.raises(StoreError, match=message):
        persistent_engine(folder).build(dataset, NO_FORECAST)
    assert _tree(folder) == before


def test_a_new_store_is_marked_before_anything_else_is_written(tmp_path: Path, dataset: Dataset) -> None:
    root = tmp_path / "new"
    refused = persistent_engine(root)
    with pytest.raises(InterestToolsError):
        refused.ingest(new_events())  # nothing built yet: a clear error, and the empty folder stays usable
    engine = persistent_engine(root)
    engine.build(dataset, NO_FORECAST)
    marker = json.loads((root / "store.json").read_text())
    assert marker["version"] == 1 and len(marker["scratch_tag"]) == 12
    written = {p.name: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and p.name != ".write.lock"}
    assert min(written, key=lambda name: written[name]) == "store.json"


def test_a_folder_where_an_older_version_only_opened_chroma_is_still_a_store(tmp_path: Path, dataset: Dataset) -> None:
    root = tmp_path / "opened"
    persistent_engine(root).store.close()  # Chroma's files and our two (empty) collections, nothing else
    (root / "store.json").unlink()  # as an older version left it
    persistent_engine(root).build(dataset, NO_FORECAST)
    assert json.loads((root / "store.json").read_text())["version"] == 1
