"""Promise: a reader (the tools of a running ``serve-mcp``, or an Engine) sees another process's writes at its next call.

Every write replaces ``state.json`` with a new generation; readers compare its ``stat`` per call, reload their
caches and reopen Chroma. The writer is a real second process (forked from the zygote): within one process
Chroma shares one in-memory view per directory, which would hide the problem.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from interest_tools.adapters import OPERATIONS_BY_NAME, ToolArgumentError, ToolContext
from interest_tools.errors import ChromaFailedError, UnknownUserError
from interest_tools.store import state
from tests.harness.stores import Zygote, new_events, persistent_engine

NEW_WINDOW = 612  # the month index of 2021-01 (12 * (2021 - 1970)); the fixture data ends in 2020


def _call(ctx: ToolContext, name: str, **raw: Any) -> Any:
    op = OPERATIONS_BY_NAME[name]
    return ctx.execute(op, ctx.parse(op, raw))[1]


def _write_in_another_process(zygote: Zygote, job: dict[str, Any]) -> dict[str, Any]:
    pid = zygote.start(job)
    done = zygote.wait_for(lambda m: m.get("pid") == pid and m.get("event") in ("done", "error"), timeout=120)
    assert done["event"] == "done", done
    assert zygote.result(pid) == {"event": "ended", "pid": pid, "status": "exited", "code": 0}
    return done


def _new_events_file(tmp_path: Path) -> Path:
    path = tmp_path / "new.parquet"
    new_events("u2", "i11", "2021-01-05T00:00:00Z").to_parquet(path)
    return path


def _deleted_files_open(root: Path) -> list[str]:
    """Files under ``root`` that this process holds open although they were deleted."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(root.resolve())) and target.endswith(" (deleted)"):
                found.append(target)
    return found


def test_the_tools_see_another_process_ingest_at_their_next_call(
    zygote: Zygote, tiny_store: Path, tmp_path: Path
) -> None:
    engine = persistent_engine(tiny_store)
    tools = ToolContext(engine, "u2")  # what serve-mcp runs for a bound user
    assert [w["index"] for w in _call(tools, "interest_windows")][-1] == 611
    assert len(_call(tools, "interest_summaries")) == 12
    assert len(_call(tools, "interest_search_history", query="horror", k=20)) == 12  # Chroma is open now

    _write_in_another_process(
        zygote, {"op": "ingest", "store": str(tiny_store), "new": str(_new_events_file(tmp_path))}
    )

    windows = _call(tools, "interest_windows")
    assert [w["index"] for w in windows][-2:] == [611, NEW_WINDOW]
    assert [s["index"] for s in _call(tools, "interest_summaries")][-1] == NEW_WINDOW
    hits = _call(tools, "interest_search_history", query="horror", k=20)  # was: "its files may be damaged"
    assert sorted(h["index"] for h in hits) == [w["index"] for w in windows]
    assert engine.health_check(deep=False)["ok"]


def test_an_engine_retries_a_read_that_fails_while_another_process_is_writing(
    zygote: Zygote, tiny_store: Path, tmp_path: Path
) -> None:
    """A write killed after its Chroma phase: Chroma holds the new window, state.json is the old one."""
    clone = tmp_path / "count"
    shutil.copytree(tiny_store, clone)
    new = str(_new_events_file(tmp_path))
    total = _write_in_another_process(zygote, {"op": "ingest", "store": str(clone), "new": new})["points"]
    engine = persistent_engine(tiny_store)
    assert len(engine.search_history("u2", "horror", 20)) == 12  # Chroma is open (and its view in memory)
    seen = state.stamp(tiny_store)

    # the ingest's last 4 atomic writes (3 frames, state.json) are 8 write points: die just before them
    pid = zygote.start({"op": "ingest", "store": str(tiny_store), "new": new, "kill_at": total - 7})
    assert zygote.result(pid)["status"] == "killed"
    assert state.stamp(tiny_store) == seen and state.pending_write(tiny_store) is not None  # mid-write

    hits = engine.search_history("u2", "horror", 20)  # reopened and retried, not "damaged"
    assert NEW_WINDOW in {h.index for h in hits}


def test_a_forgotten_user_is_gone_for_a_running_server_which_lets_go_of_deleted_files(
    zygote: Zygote, tiny_store: Path, tmp_path: Path
) -> None:
    engine = persistent_engine(tiny_store)
    tools = ToolContext(engine, "u3", report_dir=tmp_path / "reports")
    operator = ToolContext(engine)  # unbound: user_id is an argument
    assert len(_call(tools, "interest_summaries")) == 12
    assert _call(tools, "interest_search_history", query="horror", k=3)

    _write_in_another_process(zygote, {"op": "forget", "store": str(tiny_store), "user": "u3"})
    assert _deleted_files_open(tiny_store), "the reader should hold the compacted-away Chroma files open here"

    for name in ("interest_summaries", "interest_windows", "interest_explain_shift", "interest_report"):
        with pytest.raises(ToolArgumentError, match="Nothing is stored for this person"):
            _call(tools, name)
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())  # no new report
    with pytest.raises(UnknownUserError):
        _call(operator, "interest_summaries", user_id="u3")
    assert _deleted_files_open(tiny_store) == []  # Chroma was reopened on the compacted directory
    assert len(_call(operator, "interest_search_history", user_id="u1", query="documentary", k=3)) == 3


def test_an_engine_on_its_own_reloads_too_and_the_check_is_one_stat(
    zygote: Zygote, tiny_store: Path, tmp_path: Path
) -> None:
    engine = persistent_engine(tiny_store)  # no tools: Engine.check_user reloads (auto_refresh)
    assert len(engine.user_windows("u2")) == 12
    assert len(engine.search_history("u2", "horror", 20)) == 12
    started = time.perf_counter()
    for _ in range(1000):
        assert not engine.is_stale()
    per_call = (time.perf_counter() - started) / 1000
    print(f"freshness check: {per_call * 1e6:.1f} us per call")

    _write_in_another_process(
        zygote, {"op": "ingest", "store": str(tiny_store), "new": str(_new_events_file(tmp_path))}
    )
    assert engine.is_stale()
    assert [w.index for w in engine.user_windows("u2")][-1] == NEW_WINDOW
    assert NEW_WINDOW in {h.index for h in engine.search_history("u2", "horror", 20)}
    assert engine.build_state.generation == 2  # build, then this ingest


def test_damage_is_still_reported_as_damage(tiny_store: Path) -> None:
    """Nothing was written since the store was opened: a Chroma failure keeps its 'damaged' message."""
    engine = persistent_engine(tiny_store)
    engine.search_history("u1", "horror", 1)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ChromaFailedError("Chroma failed during query() ...; its files may be damaged. Fix: restore ...")

    engine.store.search_history = broken  # type: ignore[method-assign]
    with pytest.raises(ChromaFailedError, match="may be damaged"):
        engine.search_history("u1", "horror", 1)
