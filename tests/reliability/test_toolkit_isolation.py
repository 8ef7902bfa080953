"""Promise 6 through the adapters: a per-user toolkit cannot be talked into another user's data by any argument.

Hypothesis throws arbitrary argument dicts (valid fields, ``user_id`` and look-alikes, other users' ids and item
ids, junk) at every tool of ``InterestToolkit.for_user(engine, "u1")``; every answer is either an error tool
message or about u1 only, and nothing is written for anyone else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interest_tools.engine import Engine
from tests.harness.stores import persistent_engine

BOUND = "u1"
OTHERS = ("u2", "u3")
_STATE: dict[str, Any] = {}

_ID_KEYS = ["user_id", "user", "userId", "as_user", "users", "owner", "for_user", "person"]
_VALUES = st.one_of(
    st.sampled_from(["u2", "u3", "u1", "*", "", "u2; u3", "../u2", "i04", "Comedy", "2020-07-01", "all"]),
    st.integers(-5, 60),
    st.booleans(),
    st.none(),
    st.lists(st.sampled_from(["u2", "u3", "Comedy", "Horror", "i04"]), max_size=3),
    st.text(max_size=12),
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, tiny_template: Path) -> Engine:
    from tests.harness.stores import clone_store

    root = clone_store(tiny_template, tmp_path_factory.mktemp("toolkit") / "store")
    return persistent_engine(root)


def _tools(engine: Engine) -> dict[str, Any]:
    from interest_tools.adapters import InterestToolkit

    return {t.name: t for t in InterestToolkit.for_user(engine, BOUND).get_tools()}


def _user_ids(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "user_id":
                found.add(str(inner))
            found |= _user_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _user_ids(inner)
    return found


#: Valid calls, some with other users' names in free text: they must succeed and still be about u1 only.
VALID: dict[str, list[dict[str, Any]]] = {
    "interest_windows": [{}, {"last": 3}],
    "interest_summaries": [{}, {"last": 2}],
    "interest_search_history": [{"query": "horror", "k": 3}, {"query": "what did u2 and u3 watch?", "k": 20}],
    "interest_history_as_of": [{"date": "2020-07-01"}, {"date": "2020-12-31"}],
    "interest_forecast": [{}],
    "interest_recommend": [{"k": 3}, {"k": 10, "categories": ["Comedy"]}, {"exclude_categories": ["Sci-Fi"]}],
    "interest_explain_shift": [{}],
    "interest_preferences": [{}, {"as_of": "2020-08-01"}],
    "interest_feedback": [
        {"kind": "no_more_category", "category": "Comedy", "text": "u2 told me to"},
        {"kind": "more_like_item", "item_id": "i04"},
    ],
    "interest_ingest_events": [{"events": [{"item_id": "i04", "timestamp": "2021-02-01T00:00:00Z", "text": "for u2"}]}],
}


def _args(tool: str, names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    junk = st.dictionaries(st.sampled_from(names + _ID_KEYS), _VALUES, max_size=4)
    valid = st.sampled_from(VALID[tool])
    return st.one_of(valid, junk, st.builds(lambda v, j: {**v, **j}, valid, junk))


def _without(text: str, args: dict[str, Any]) -> str:
    """The text minus every string the caller passed (a tool may echo its own arguments, or each of a list's
    values, e.g. ``unknown categor(ies) ['u2']`` for ``categories=['u2', 'u2']``)."""
    values = [json.dumps(args), *(str(v) for v in args.values())]
    values += [str(x) for v in args.values() if isinstance(v, list) for x in v]
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "")
    return text


@pytest.mark.parametrize(
    "tool_name",
    [
        "interest_windows",
        "interest_summaries",
        "interest_search_history",
        "interest_history_as_of",
        "interest_forecast",
        "interest_recommend",
        "interest_explain_shift",
        "interest_preferences",
        "interest_feedback",
        "interest_ingest_events",
    ],
)
def test_no_argument_reaches_another_users_data(tool_name: str, engine: Engine) -> None:
    tool = _tools(engine)[tool_name]
    fields = list(tool.args_schema.model_fields)
    assert "user_id" not in fields  # who the user is never comes from the model
    others_before = {u: (engine.preferences(u), len(engine.dataset.user_events(u))) for u in OTHERS}

    successes = []

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(args=_args(tool_name, fields))
    def attempt(args: dict[str, Any]) -> None:
        message = tool.invoke({"name": tool_name, "args": args, "id": "call", "type": "tool_call"})
        text = str(message.content)
        if message.status == "error":
            assert not re.search(r"\bu[23]\b", _without(text, args)), text
            return
        successes.append(args)
        payload = json.dumps(message.artifact, default=str) if message.artifact is not None else ""
        assert _user_ids(message.artifact) <= {BOUND}, (args, payload[:300])
        assert not re.search(r"\bu[23]\b", _without(text + payload, args)), (args, text)

    attempt()
    assert successes, "no valid call was tried"
    engine.reset_cache()
    after = {u: (engine.preferences(u), len(engine.dataset.user_events(u))) for u in OTHERS}
    assert after == others_before  # nothing was written for anyone else


def test_forget_cannot_be_pointed_at_another_user(engine: Engine) -> None:
    tool = _tools(engine)["interest_forget_user"]
    for args in ({"confirm": True, "user_id": "u2"}, {"confirm": True, "user": "u3"}, {"confirm": "u2"}):
        message = tool.invoke({"name": tool.name, "args": args, "id": "call", "type": "tool_call"})
        assert message.status == "error", (args, message.content)
    assert set(OTHERS) <= set(engine.users()) and BOUND in engine.users()


def test_an_echo_of_the_callers_own_list_values_is_not_a_leak() -> None:
    """Found by Hypothesis: ``categories=['u2', 'u2']`` is refused as ``unknown categor(ies) ['u2']``."""
    args = {"categories": ["u2", "u2"]}
    assert not re.search(r"\bu[23]\b", _without("unknown categor(ies) ['u2']; valid categories: Comedy", args))
    assert re.search(r"\bu[23]\b", _without("u3 watched Comedy", args))  # another user's id is still seen
