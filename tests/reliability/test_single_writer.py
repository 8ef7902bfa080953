"""Promise 4: one writer. A second process's write fails within 5 s with a clear message; readers are fine.

A forked child opens the persistent store for writing and holds the writer lock (of the built store and of an
empty directory); this test process plays the second process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from interest_tools.data import Dataset
from interest_tools.errors import StoreError
from interest_tools.store import _state as state
from tests.harness.stores import NO_FORECAST, Zygote, new_events, persistent_engine, snapshot


def _hold(zygote: Zygote, *stores: Path) -> int:
    pid = zygote.start({"op": "hold_lock", "stores": [str(s) for s in stores]})
    zygote.wait_for(lambda m: m.get("event") == "locked" and m.get("pid") == pid)
    return pid


def test_second_writer_fails_fast_readers_are_fine(
    zygote: Zygote, tiny_store: Path, tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = persistent_engine(tiny_store)
    answers = (expected.user_summaries("u1"), expected.recommend("u1", 3), expected.search_history("u3", "horror", 2))
    expected.store.close()
    empty = tmp_path / "empty"
    pid = _hold(zygote, tiny_store, empty)
    try:
        reader = persistent_engine(tiny_store)  # a reader needs no lock, even while another process writes
        assert (
            reader.user_summaries("u1"),
            reader.recommend("u1", 3),
            reader.search_history("u3", "horror", 2),
        ) == answers
        before = snapshot(reader)

        writer = persistent_engine(tiny_store)
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            writer.ingest(new_events())
        waited = time.monotonic() - started
        assert waited < 6.5, f"the second writer waited {waited:.1f} s"
        message = str(info.value)
        assert f"another process is writing to the store at {tiny_store} (pid {pid})" in message
        assert "serve-mcp" in message and "--chroma-url" in message and "Fix:" in message  # server mode

        monkeypatch.setattr(state, "LOCK_TIMEOUT_S", 0.2)  # the other writes wait the same way; keep it short
        for attempt in (
            lambda: writer.build(dataset, NO_FORECAST),
            lambda: writer.forget_user("u2"),
            lambda: writer.add_feedback("u1", "no_more_category", category="Comedy"),
            lambda: writer.compact(),
        ):
            with pytest.raises(StoreError, match="another process is writing"):
                attempt()
        assert snapshot(reader) == before  # nothing was written by the refused writers

        fresh = persistent_engine(empty)
        with pytest.raises(StoreError, match="another process is writing"):
            fresh.build(dataset, NO_FORECAST)
        assert not (empty / "chroma").exists()  # Chroma was never opened before the lock
    finally:
        os.kill(pid, signal.SIGKILL)
        zygote.result(pid)
    writer = persistent_engine(tiny_store)  # the lock dies with its holder: writing works at once
    writer.add_feedback("u1", "no_more_category", category="Comedy")
    assert writer.preferences("u1").excluded_categories == ["Comedy"]


def test_lock_is_reentrant_in_one_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    with state.writer_lock(tmp_path), state.writer_lock(tmp_path):  # a write that calls another write
        outcome: list[str] = []

        def other() -> None:
            try:
                with state.writer_lock(tmp_path, timeout_s=0.2):
                    outcome.append("entered")
            except StoreError:
                outcome.append("refused")

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert outcome == ["refused"]
    with state.writer_lock(tmp_path, timeout_s=0.2):  # released by the outer exit
        pass


def test_stale_temp_files_of_a_killed_writer_are_removed_under_the_lock(tmp_path: Path) -> None:
    with state.writer_lock(tmp_path, create=True):  # a new store: marked, with its scratch tag
        tag = state.scratch_tag(tmp_path)
    assert tag is not None
    (tmp_path / "data").mkdir()
    leftovers = [tmp_path / f".state.json.{tag}-123.tmp", tmp_path / "data" / f".events.parquet.{tag}-123.tmp"]
    for path in leftovers:
        path.write_bytes(b"partial")
    keep = tmp_path / "data" / "events.parquet"
    keep.write_bytes(b"whole")
    with state.writer_lock(tmp_path):
        pass
    assert not any(p.exists() for p in leftovers) and keep.read_bytes() == b"whole"
