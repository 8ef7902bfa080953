"""Issue 16: stated preferences over time, written from the complaints about agent memories.

A changed preference must end the old one, not erase it or keep both as true (supersession); "for a month"
must lapse by itself (expiry); "as of" a date must show what was in force then; behaviour that contradicts a
statement must be noticed (conflicts); statements said earlier must land in their place (backfill); forget
must remove the whole timeline; one user's statements never change another's answers; and stores written
before statements had times must still read.

The fixture (tests/harness/data.py): u1 watches Sci-Fi Jan-Jun 2020 and Documentary Jul-Dec 2020 on the 3rd,
10th and 17th of every month; u1 has never seen a Comedy or Horror item, so both are recommendable. The clock
(``state.now``) is pinned per test: "day N" is 2020-01-01 plus N days.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interest_tools.engine import Engine
from interest_tools.errors import ConfigError, UnknownUserError
from interest_tools.store import state
from tests.harness.data import build_engine, make_events

DAY0 = datetime(2020, 1, 1, tzinfo=UTC)
HORROR = {"i06", "i07", "i08"}


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build_engine(tmp_path_factory.mktemp("store"))


@pytest.fixture
def engine(shared: Engine) -> Iterator[Engine]:
    """The module's engine with no statements stored (each test starts from an empty timeline)."""
    (shared.root / state.FEEDBACK).unlink(missing_ok=True)
    yield shared
    (shared.root / state.FEEDBACK).unlink(missing_ok=True)


class Clock:
    """``state.now`` pinned to a settable instant."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.t = day(0)
        monkeypatch.setattr(state, "now", lambda: self.t)

    def at(self, n: float) -> Clock:
        self.t = day(n)
        return self


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def recommended(engine: Engine, user: str = "u1") -> set[str]:
    return {it.item_id for it in engine.recommend(user, 10).items}


# ------------------------------------------------------------------------------------------ supersession


def test_a_later_statement_ends_the_earlier_one_instead_of_erasing_it(engine: Engine, clock: Clock) -> None:
    assert recommended(engine) >= HORROR  # unseen Horror is recommendable without any statement
    clock.at(1)
    engine.add_feedback("u1", "more_category", category="Horror", text="more horror please")
    clock.at(20)
    engine.add_feedback("u1", "no_more_category", category="Horror", text="no more horror")
    clock.at(25)
    assert not HORROR & recommended(engine)  # day 25: the day-20 statement is in force
    assert engine.preferences("u1").excluded_categories == ["Horror"]
    assert engine.preferences("u1").boosted_categories == []

    as_of = engine.history_as_of("u1", day(10))  # day 10: only "more Horror" had been said
    assert [(s["kind"], s["category"], s["in_force"]) for s in as_of.stated_preferences] == [
        ("more_category", "Horror", True)
    ]
    assert "more Horror (since 2020-01-02)" in as_of.narrative

    statements = engine.preference_timeline("u1").statements  # both stay, with their dates
    assert [(s.kind, s.stated_at, s.superseded_at, s.in_force, s.status) for s in statements] == [
        ("more_category", day(1), day(20), False, "superseded"),
        ("no_more_category", day(20), None, True, "in_force"),
    ]
    assert [s.text for s in statements] == ["more horror please", "no more horror"]


def test_as_of_a_past_date_the_timeline_is_what_was_known_then(engine: Engine, clock: Clock) -> None:
    clock.at(1)
    engine.add_feedback("u1", "more_category", category="Horror")
    clock.at(20)
    engine.add_feedback("u1", "no_more_category", category="Horror")
    then = engine.preference_timeline("u1", as_of=day(10))
    assert then.as_of == day(10)
    assert [(s.kind, s.superseded_at, s.in_force) for s in then.statements] == [("more_category", None, True)]
    assert engine.preferences("u1", at=day(10)).boosted_categories == ["Horror"]


# ------------------------------------------------------------------------------------------ expiry


def test_a_statement_with_valid_until_lapses_by_itself(engine: Engine, clock: Clock) -> None:
    engine.add_feedback("u1", "no_more_category", category="Horror", valid_until=day(30))
    clock.at(29)
    assert not HORROR & recommended(engine)
    clock.at(31)
    assert recommended(engine) >= HORROR  # expired: it no longer filters
    (s,) = engine.preference_timeline("u1").statements
    assert (s.valid_until, s.in_force, s.status, s.superseded_at) == (day(30), False, "expired", None)
    engine.add_feedback("u1", "more_category", category="Horror")  # day 31: it had lapsed, nothing to supersede
    lapsed, said = engine.preference_timeline("u1").statements
    assert (lapsed.status, lapsed.superseded_at, said.status) == ("expired", None, "in_force")
    assert engine.preferences("u1").boosted_categories == ["Horror"]


def test_bad_times_are_refused_and_store_nothing(engine: Engine, clock: Clock) -> None:
    clock.at(10)
    with pytest.raises(ConfigError, match="in the future"):
        engine.add_feedback("u1", "no_more_category", category="Horror", stated_at=day(11))
    with pytest.raises(ConfigError, match="not after stated_at"):
        engine.add_feedback("u1", "no_more_category", category="Horror", valid_until=day(5))
    with pytest.raises(ConfigError, match="ISO 8601"):
        engine.add_feedback("u1", "no_more_category", category="Horror", valid_until="next month")
    assert engine.feedback_records("u1") == []


# ------------------------------------------------------------------------------------------ conflicts


def _u1_documentary_events(since: datetime) -> list[tuple[str, str]]:
    events = make_events()
    rows = events[(events["user_id"] == "u1") & (events["timestamp"] >= since)]
    rows = rows[rows["item_id"].isin({"i09", "i10", "i11"})].sort_values("timestamp", kind="stable")
    return [(i, t.date().isoformat()) for i, t in zip(rows["item_id"], rows["timestamp"], strict=True)]


@pytest.mark.parametrize("stated", ["2020-11-20", "2020-11-01"])
def test_behaviour_against_a_statement_is_one_conflict_with_the_event_ids(
    engine: Engine, clock: Clock, stated: str
) -> None:
    clock.at(400)  # 2021-02-04, after the whole history
    engine.add_feedback("u1", "no_more_category", category="Documentary", stated_at=stated)
    expected = _u1_documentary_events(datetime.fromisoformat(stated).replace(tzinfo=UTC))
    assert len(expected) >= 3  # 3 events (Dec 3, 10, 17) from Nov 20; 6 from Nov 1
    (conflict,) = [c for c in engine.preference_timeline("u1").conflicts if c.statement is not None]
    assert conflict.kind == "behaviour_against_statement"
    assert conflict.statement is not None and conflict.statement.category == "Documentary"
    assert list(zip(conflict.event_item_ids, conflict.event_dates, strict=True)) == expected
    assert f'"no more Documentary" on {stated}' in conflict.message
    assert f"{len(expected)} events on Documentary" in conflict.message
    assert "Should I lift it?" in conflict.question and conflict.question in conflict.message
    explained = engine.explain("u1").to_json()["conflicts"]  # explain --json carries the same conflicts
    assert [c for c in explained if c["statement"]] == [conflict.model_dump(mode="json")]


def test_fewer_than_three_events_or_agreeing_behaviour_is_no_conflict(engine: Engine, clock: Clock) -> None:
    clock.at(400)
    engine.add_feedback("u1", "no_more_category", category="Documentary", stated_at="2020-12-05")  # 2 events after
    engine.add_feedback("u1", "no_more_category", category="Sci-Fi", stated_at="2020-08-01")  # they agree: none
    engine.add_feedback("u1", "no_more_category", category="Horror", stated_at="2020-03-01")  # never watched
    assert [c for c in engine.preference_timeline("u1").conflicts if c.statement is not None] == []


def test_an_observed_shift_no_statement_covers_is_a_conflict_with_a_question(engine: Engine, clock: Clock) -> None:
    clock.at(400)
    (shift,) = engine.explain("u1").conflicts  # u1 moved from Sci-Fi to Documentary in July, said nothing
    assert shift["kind"] == "unstated_shift" and shift["statement"] is None
    assert "toward Documentary" in shift["message"] and "away from Sci-Fi" in shift["message"]
    assert shift["question"] == "You seem to be into Documentary lately. Would you like more of it?"
    own = dict(zip(make_events().query("user_id == 'u1'")["item_id"], range(10**6), strict=False))
    assert shift["event_item_ids"] and set(shift["event_item_ids"]) <= set(own)
    assert shift["event_dates"] == sorted(shift["event_dates"])
    engine.add_feedback("u1", "more_category", category="Documentary", stated_at="2020-08-01")
    engine.add_feedback("u1", "no_more_category", category="Sci-Fi", stated_at="2020-08-01")
    assert engine.explain("u1").conflicts == []  # both sides of the shift are now covered and agree


# ------------------------------------------------------------------------------------------ backfill, forget


def test_backfilled_statements_land_in_their_place(engine: Engine, clock: Clock) -> None:
    clock.at(40)
    engine.add_feedback("u1", "no_more_category", category="Horror")  # said now (day 40)
    engine.add_feedback("u1", "more_category", category="Horror", stated_at=day(5))  # then told it happened earlier
    engine.add_feedback("u1", "no_more_category", category="Horror", stated_at=day(15))
    rows = [(s.kind, s.stated_at, s.superseded_at, s.in_force) for s in engine.preference_timeline("u1").statements]
    assert rows == [
        ("more_category", day(5), day(15), False),
        ("no_more_category", day(15), day(40), False),
        ("no_more_category", day(40), None, True),
    ]
    assert engine.preferences("u1", at=day(10)).boosted_categories == ["Horror"]
    assert engine.preferences("u1", at=day(20)).excluded_categories == ["Horror"]


def test_forget_removes_the_whole_timeline_and_only_that(tmp_path: Path, clock: Clock) -> None:
    engine = build_engine(tmp_path / "store")
    clock.at(3)
    for kind, category in (("more_category", "Horror"), ("no_more_category", "Horror"), ("more_category", "Comedy")):
        engine.add_feedback("u3", kind, category=category)  # type: ignore[arg-type]
    engine.add_feedback("u2", "no_more_category", category="Horror")
    u2_before = engine.preference_timeline("u2").to_json()
    engine.forget_user("u3")
    assert [r for r in state.read_jsonl(engine.root, state.FEEDBACK) if r["user_id"] == "u3"] == []
    with pytest.raises(UnknownUserError):
        engine.preference_timeline("u3")
    assert engine.preference_timeline("u2").to_json() == u2_before


def test_one_users_statements_never_change_anothers_answers(engine: Engine, clock: Clock) -> None:
    clock.at(400)
    before = (
        engine.recommend("u2", 10).model_dump(),
        engine.explain("u2").to_json(),
        engine.history_as_of("u2", "2020-06-01").model_dump(),
        engine.preference_timeline("u2").to_json(),
    )
    for kind, category in (("no_more_category", "Comedy"), ("more_category", "Horror")):
        engine.add_feedback("u1", kind, category=category, stated_at="2020-03-01")  # type: ignore[arg-type]
        engine.add_feedback("u3", kind, category=category, valid_until="2021-06-01")  # type: ignore[arg-type]
    after = (
        engine.recommend("u2", 10).model_dump(),
        engine.explain("u2").to_json(),
        engine.history_as_of("u2", "2020-06-01").model_dump(),
        engine.preference_timeline("u2").to_json(),
    )
    assert after == before
    assert before[3]["statements"] == []


# ------------------------------------------------------------------------------------------ old stores


def test_feedback_written_before_statements_had_times_reads_as_statements_in_force(
    engine: Engine, clock: Clock
) -> None:
    old = [  # the record format before issue 16: a recording `timestamp`, no stated_at / valid_until / source
        {"user_id": "u1", "kind": "no_more_category", "item_id": None, "category": "Horror", "text": "",
         "timestamp": "2020-03-01T10:00:00+00:00"},
        {"user_id": "u1", "kind": "more_category", "item_id": None, "category": "Comedy", "text": "",
         "timestamp": "2020-03-02T10:00:00+00:00"},
        {"user_id": "u1", "kind": "more_category", "item_id": None, "category": "Horror", "text": "",
         "timestamp": "2020-02-01T10:00:00+00:00"},  # an older statement listed later in the file
        {"user_id": "u1", "kind": "no_more_category", "item_id": None, "category": "Comedy", "text": "",
         "stated_at": "someday"},  # a damaged time: left out, never fatal to recommend
    ]  # fmt: skip
    state.rewrite_jsonl(engine.root, state.FEEDBACK, old)
    clock.at(400)
    prefs = engine.preferences("u1")
    assert (prefs.excluded_categories, prefs.boosted_categories) == (["Horror"], ["Comedy"])
    assert not HORROR & recommended(engine)
    rows = [(s.category, s.kind, s.in_force, s.source) for s in engine.preference_timeline("u1").statements]
    assert rows == [
        ("Horror", "more_category", False, None),
        ("Horror", "no_more_category", True, None),
        ("Comedy", "more_category", True, None),
    ]
    assert engine.preference_timeline("u1").statements[1].stated_at == datetime(2020, 3, 1, 10, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ adapters


def test_cli_feedback_and_preferences_json(engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    from interest_tools.adapters.cli import _common, app

    monkeypatch.setattr(_common, "engine_from", lambda store, url: engine)
    clock.at(20)
    runner = CliRunner()
    said = runner.invoke(app, ["feedback", "u1", "--kind", "no_more_category", "--category", "Horror",
                               "--stated-at", "2020-01-05", "--valid-until", "2020-02-05", "--json"])  # fmt: skip
    assert said.exit_code == 0, said.output
    record = json.loads(said.stdout)
    assert (record["stated_at"], record["valid_until"], record["source"]) == (
        "2020-01-05T00:00:00+00:00", "2020-02-05T00:00:00+00:00", "cli"
    )  # fmt: skip
    result = runner.invoke(app, ["preferences", "u1", "--as-of", "2020-01-10", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"user_id", "as_of", "statements", "conflicts"}
    assert data["user_id"] == "u1" and data["as_of"].startswith("2020-01-10")
    (s,) = data["statements"]
    assert {k: s[k] for k in ("kind", "category", "item_id", "valid_until", "superseded_at", "in_force", "source")} == {
        "kind": "no_more_category", "category": "Horror", "item_id": None, "valid_until": "2020-02-05T00:00:00Z",
        "superseded_at": None, "in_force": True, "source": "cli",
    }  # fmt: skip
    assert s["stated_at"] == "2020-01-05T00:00:00Z"
    history = json.loads(runner.invoke(app, ["history", "u1", "--as-of", "2020-01-10", "--json"]).stdout)
    assert [(x["kind"], x["category"], x["in_force"]) for x in history["stated_preferences"]] == [
        ("no_more_category", "Horror", True)
    ]
    assert history["window"]["categories"]  # beside the observed interests of that date
    later = json.loads(runner.invoke(app, ["preferences", "u1", "--as-of", "2020-03-01", "--json"]).stdout)
    assert [(x["in_force"], x["status"]) for x in later["statements"]] == [(False, "expired")]
    bad = runner.invoke(app, ["feedback", "u1", "--kind", "no_more_category", "--category", "Horror",
                              "--stated-at", "someday"])  # fmt: skip
    assert bad.exit_code == 2 and "ISO 8601" in bad.stderr


def test_tools_record_their_source_and_list_the_timeline(engine: Engine, clock: Clock) -> None:
    import asyncio

    from fastmcp import Client

    from interest_tools.adapters import InterestToolkit, create_server

    clock.at(400)
    toolkit = InterestToolkit.for_user(engine, "u1")
    noted = toolkit.get_tool("interest_feedback").invoke(
        {"kind": "no_more_category", "category": "Horror", "valid_until": "2021-03-06", "text": "not for a month"}
    )
    assert "until 2021-03-06" in noted

    async def over_mcp() -> object:
        async with Client(create_server(engine, user_id="u1")) as client:
            await client.call_tool("interest_feedback", {"kind": "more_category", "category": "Comedy"})
            return (await client.call_tool("interest_preferences", {})).structured_content

    listed = asyncio.run(over_mcp())
    assert isinstance(listed, dict)
    assert [(s["category"], s["source"], s["in_force"]) for s in listed["statements"]] == [
        ("Horror", "tool", True),
        ("Comedy", "mcp", True),
    ]
    text = toolkit.get_tool("interest_preferences").invoke({})
    assert "In force:" in text and "no more Horror: said 2021-02-04, valid until 2021-03-06" in text
    assert text.count("\n- ") >= 2


def test_a_statement_written_by_another_engine_applies_at_once(engine: Engine, clock: Clock) -> None:
    """The parsed log is cached per engine, but a write from any process (here a second engine) is seen."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from interest_tools.settings import Settings

    other = Engine(Settings(store_path=engine.root), embeddings=DeterministicFakeEmbedding(size=16))
    clock.at(400)
    assert engine.preferences("u1").excluded_categories == []  # parsed and cached (no file yet)
    other.add_feedback("u1", "no_more_category", category="Horror")
    assert engine.preferences("u1").excluded_categories == ["Horror"]
    engine.add_feedback("u1", "more_category", category="Horror")
    assert other.preferences("u1").boosted_categories == ["Horror"]
    other.add_feedback("u1", "no_more_category", category="Comedy")  # same size class of line, new content
    assert engine.preferences("u1").excluded_categories == ["Comedy"]
