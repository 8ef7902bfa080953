"""Promise 7: after ``forget_user`` and ``compact``, no file under the store holds the user's text or vectors.

The victim's id and tags carry a sentinel string; summaries are written by a (fake) LLM so the LLM cache holds
the victim's entries too; the build trains the tiny forecaster, so its checkpoint is scanned as well; the
``interest_report`` tool writes the victim's reports (HTML, and Markdown with its charts) under the store. The
scan reads every file under the store, and every path name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interest_tools.adapters import OPERATIONS_BY_NAME, ToolArgumentError, ToolContext
from interest_tools.data import Dataset, canonicalize_events
from interest_tools.engine import Engine
from interest_tools.errors import UnknownUserError
from interest_tools.store import _marker as store_dir
from interest_tools.store import state
from interest_tools.store._compact import copy_name
from tests.harness.stores import TINY, RecordingChatModel, dump_collections, make_events, make_items, persistent_engine

SENTINEL = "ZQXJ-SENTINEL"
VICTIM = f"victim-{SENTINEL}"


def _dataset() -> Dataset:
    base = make_events()
    victim = base[base["user_id"] == "u3"].assign(
        user_id=VICTIM,
        timestamp=lambda f: f["timestamp"] - pd.DateOffset(years=1),  # 2019: periods no one else has
        text=f"my secret tag {SENTINEL}",
    )
    events = canonicalize_events(pd.concat([base, victim], ignore_index=True))
    return Dataset(events=events, items=make_items(), name="fixture")


def _files_containing(root: Path, needles: list[bytes]) -> dict[str, list[int]]:
    hits: dict[str, list[int]] = {}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found = [i for i, needle in enumerate(needles) if needle in data]
            if found:
                hits[str(path.relative_to(root))] = found
    return hits


def _report(engine: Engine, user: str, fmt: str, report_dir: Path | None = None) -> list[str]:
    """Write a report with the ``interest_report`` tool (as an agent would); returns its files."""
    tools = ToolContext(engine, user, report_dir=report_dir)
    op = OPERATIONS_BY_NAME["interest_report"]
    files: list[str] = tools.execute(op, tools.parse(op, {"format": fmt}))[1]["files"]
    return files


def _paths_naming(root: Path, text: str) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if text in p.name]


def test_forget_then_compact_leaves_no_trace_on_disk(tmp_path: Path) -> None:
    root = tmp_path / "store"
    chat = RecordingChatModel()
    engine = persistent_engine(root, chat_model=chat)
    engine.build(_dataset(), TINY.model_copy(update={"summarizer": "llm"}))
    assert len(chat.prompts) == 48  # 4 users x 12 months, each summarised by the LLM (and cached)
    engine.add_feedback(VICTIM, "no_more_category", category="Comedy", text=f"no comedy please {SENTINEL}")

    dump = dump_collections(engine)
    mine = [i for i, m in enumerate(dump["windows"]["metadatas"]) if m["user_id"] == VICTIM]
    others = {dump["windows"]["vectors"][i].tobytes() for i in range(len(dump["windows"]["ids"])) if i not in mine}
    vectors = [
        dump["windows"]["vectors"][i].tobytes() for i in mine if dump["windows"]["vectors"][i].tobytes() not in others
    ]
    assert len(mine) == 12 and len(vectors) >= 6  # vectors only the victim has (summaries of 2019)
    needles = [SENTINEL.encode(), *vectors]
    victim_reports = _report(engine, VICTIM, "html") + _report(engine, VICTIM, "md")  # md: charts beside it
    legacy = root / "reports" / f"{VICTIM}-20240101T000000.html"  # named as before reports had a key
    legacy.write_bytes(Path(victim_reports[0]).read_bytes())
    other_reports = _report(engine, "u1", "html")
    assert len(victim_reports) >= 3 and all(Path(f).parent == root / "reports" for f in victim_reports)
    texts = {str(Path(f).relative_to(root)) for f in victim_reports if not f.endswith(".png")}  # charts: name only
    assert texts <= set(_files_containing(root, needles))
    assert _files_containing(root, needles) and _paths_naming(root, SENTINEL)  # present before: the scan can fail

    deleted = engine.forget_user(VICTIM)
    assert deleted == {"events": 36, "windows": 12, "cached_summaries": 12, "reports": len(victim_reports) + 1}
    leaked = _files_containing(root, needles)
    assert set(leaked) <= {p for p in leaked if p.startswith("chroma")}, leaked  # state files are clean at once
    assert _paths_naming(root, SENTINEL) == []
    assert all(Path(f).is_file() for f in other_reports)  # another user's report stays
    print(f"after forget_user, before compact, Chroma files still hold the victim's data: {sorted(leaked)}")

    report = engine.compact()
    assert report["compacted"] and report["collections"] == {"items": 12, "windows": 36}
    assert _files_containing(root, needles) == {}  # every file under the store: no text, no vector of the user

    assert engine.users() == ["u1", "u2", "u3"]  # everyone else is intact and answers
    assert [h.user_id for h in engine.search_history("u1", "documentary", 3)] == ["u1"] * 3
    assert engine.recommend("u2", 3).items
    with pytest.raises(UnknownUserError):
        engine.forecast(VICTIM)
    assert engine.preferences(VICTIM).excluded_categories == []
    reopened = persistent_engine(root)
    assert reopened.store.counts() == {"items": 12, "windows": 36}
    assert reopened.health_check(deep=False)["ok"]
    assert not list(tmp_path.glob("store/chroma.*")), "compaction left a copy behind"
    assert np.isfinite(reopened.store.get_item_vectors(["i01"])).all()


def test_compact_of_an_in_memory_store_says_so(tmp_path: Path) -> None:
    from tests.harness.stores import NO_FORECAST, memory_engine

    engine = memory_engine(tmp_path)
    engine.build(Dataset(events=canonicalize_events(make_events()), items=make_items()), NO_FORECAST)
    assert engine.compact()["compacted"] is False
    assert engine.store.counts() == {"items": 12, "windows": 36}


def test_compaction_killed_before_the_swap_keeps_the_old_files(tmp_path: Path) -> None:
    from tests.harness.stores import NO_FORECAST

    root = tmp_path / "store"
    engine = persistent_engine(root)
    engine.build(Dataset(events=canonicalize_events(make_events()), items=make_items()), NO_FORECAST)
    engine.store.close()
    marker = store_dir.read_marker(root)
    assert marker is not None
    half = copy_name(root / "chroma", "compact", marker.scratch_tag)  # what a compaction killed during its copy leaves
    half.mkdir()
    (half / "chroma.sqlite3").write_bytes(b"partial")
    parked = copy_name(root / "chroma", "old", marker.scratch_tag)  # and one killed between the fallback's renames
    (root / "chroma").rename(parked)
    theirs = [root / "chroma.old-backup", root / "chroma.compact-mine"]  # the user's own folders: never touched
    for folder in theirs:
        folder.mkdir()
        (folder / "notes.txt").write_text("mine")
    reader = persistent_engine(root)
    assert reader.store.counts() == {"items": 12, "windows": 36}  # the old directory was put back
    assert reader.compact()["compacted"]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("chroma")) == [
        "chroma",
        "chroma.compact-mine",
        "chroma.old-backup",
    ]
    assert all((folder / "notes.txt").read_text() == "mine" for folder in theirs)
    assert state.pending_write(root) is None


def test_the_forget_tool_also_removes_reports_written_outside_the_store(tiny_store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "shared-reports"
    engine = persistent_engine(tiny_store)
    mine = _report(engine, "u3", "html", outside) + _report(engine, "u3", "md")  # one outside, one inside
    theirs = _report(engine, "u2", "html", outside)
    tools = ToolContext(engine, "u3", report_dir=outside)
    op = OPERATIONS_BY_NAME["interest_forget_user"]
    result = tools.execute(op, tools.parse(op, {"confirm": True}))[1]
    assert result["deleted"]["reports"] == len(mine)
    assert not any(Path(f).exists() for f in mine) and all(Path(f).is_file() for f in theirs)
    with pytest.raises(ToolArgumentError, match="Nothing is stored for this person"):
        _report(engine, "u3", "html", outside)
    assert sorted(p.name for p in outside.iterdir()) == sorted(Path(f).name for f in theirs)
