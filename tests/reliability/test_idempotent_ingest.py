"""Promise 2: ingesting the same events twice changes nothing; duplicate ids in one batch never reach Chroma."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from interest_tools.errors import DataValidationError
from interest_tools.store import WindowDoc
from tests.harness.stores import make_items, new_events, persistent_engine, snapshot


def test_same_events_twice_change_nothing(tiny_store: Path) -> None:
    engine = persistent_engine(tiny_store)
    batch = pd.concat([new_events("u2", "i11"), new_events("u3", "i09", "2021-02-03T10:00:00Z")], ignore_index=True)
    first = engine.ingest(batch)
    assert (first.users_touched, first.windows_embedded, first.n_events) == (2, 2, 110)
    after_first = snapshot(engine)
    second = engine.ingest(batch)
    assert (second.users_touched, second.windows_embedded, second.items_embedded) == (0, 0, 0)
    assert second.duplicates_dropped == 2 and second.n_events == 110
    assert snapshot(engine) == after_first  # byte for byte: not even state.json's time changed
    third = engine.ingest(pd.concat([batch, batch], ignore_index=True))  # duplicates inside one batch too
    assert third.users_touched == 0 and snapshot(engine) == after_first


def test_only_the_touched_users_change(tiny_store: Path) -> None:
    engine = persistent_engine(tiny_store)
    before = snapshot(engine)
    report = engine.ingest(new_events("u2", "i11"))
    after = snapshot(engine)
    assert report.users_touched == 1 and report.windows_embedded == 1  # one new window (January 2021)

    def of(snap: dict[str, Any], user: str) -> list[tuple[str, str]]:
        ids, docs = snap["ids"]["windows"], snap["documents"]["windows"]
        return [(i, d) for i, d in zip(ids, docs, strict=True) if i.startswith(f"window:{user}:")]

    assert of(after, "u1") == of(before, "u1") and of(after, "u3") == of(before, "u3")
    assert len(of(after, "u2")) == len(of(before, "u2")) + 1
    assert after["ids"]["items"] == before["ids"]["items"] and after["vectors"]["items"] == before["vectors"]["items"]


def test_a_changed_item_updates_the_users_who_have_it(tiny_store: Path) -> None:
    engine = persistent_engine(tiny_store)
    items = make_items()
    renamed = items[items["item_id"] == "i04"].assign(title="Comedy Film 4 (Director's Cut)")
    report = engine.ingest(new_events("u3", "i09", "2021-02-03T10:00:00Z"), renamed)
    assert report.items_embedded == 1  # only the changed item is embedded again
    assert report.users_touched == 2  # u3 (new event) and u2 (has i04)
    naming = [s for s in engine.user_summaries("u2") if "i04" in s.mentioned_item_ids]
    assert naming and all("Director's Cut" in s.summary for s in naming)  # u2's summaries were rewritten
    stored = {h.summary for h in engine.search_history("u2", "comedy", 12)}
    assert {s.summary for s in naming} <= stored  # and re-embedded
    assert engine.titles["i04"] == "Comedy Film 4 (Director's Cut)"
    again = engine.ingest(new_events("u3", "i09", "2021-02-03T10:00:00Z"), renamed)
    assert (again.users_touched, again.items_embedded) == (0, 0)  # the same change twice: nothing to do


class _Spy:
    def __init__(self) -> None:
        self.calls: list[str] = []


@pytest.fixture
def chroma_spy(monkeypatch: pytest.MonkeyPatch) -> _Spy:
    """Records every write Chroma receives."""
    from chromadb.api.models.Collection import Collection

    spy = _Spy()
    for name in ("add", "upsert", "update", "delete"):
        real = getattr(Collection, name)

        def recorded(self: Any, *args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            spy.calls.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Collection, name, recorded)
    return spy


def test_duplicate_ids_in_one_batch_are_rejected_before_chroma_sees_them(tiny_store: Path, chroma_spy: _Spy) -> None:
    engine = persistent_engine(tiny_store)
    store = engine.store
    before = snapshot(engine)
    items = make_items()
    twice = pd.concat([items, items.iloc[[4]]], ignore_index=True)
    with pytest.raises(DataValidationError, match=r"row 13.*duplicate store id 'item:i04'"):
        store.upsert_items(twice)
    window = engine.user_windows("u1")[0]
    doc = WindowDoc.from_window(window, "month", "a summary")
    with pytest.raises(DataValidationError, match=f"duplicate store id '{doc.doc_id}'"):
        store.upsert_windows([doc, doc.model_copy(update={"text": "another summary"})])
    with pytest.raises(DataValidationError, match="duplicate store id"):
        store.replace_user_windows("u1", "month", [doc, doc])
    assert chroma_spy.calls == []  # Chroma never saw any of those writes
    assert snapshot(engine) == before
