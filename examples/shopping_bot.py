"""A conversational shopping assistant on a small outdoor-and-home shop (examples/data/shop_*.csv).

Shopper ``maya`` ran in the first half of 2024 and has hiked and camped since July. In the chat she asks
for running gear, then for hiking or camping gear instead (category filters on ``interest_recommend``), buys
one (``interest_ingest_events`` adds the purchase to her history at once), says she wants no running gear for
a month (``interest_feedback``: no more Running, ``valid_until`` a month ahead), and gets a last, unfiltered
list that reflects both: no Running, and not what she just bought. Then she mentions that she bought running
shoes, socks and a GPS watch after all; the bot records them, checks her stated preferences
(``interest_preferences``), notices that the purchases contradict "no more Running" and asks whether to lift it.

Run::

    python examples/shopping_bot.py          # all-MiniLM-L6-v2, scripted model (or OpenAI if OPENAI_API_KEY)
    python examples/shopping_bot.py --fast   # fake embeddings, seconds
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import (
    base_parser,
    build_config,
    call,
    chat_model,
    make_engine,
    plain,
    result_of,
    run_turn,
    say,
    shop_dataset,
    step,
    store_dir,
    this_turn,
)
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from interest_tools.adapters import InterestToolkit

SHOPPER = "maya"
SYSTEM = (
    "You are the shop's assistant for one shopper. Recommend products with the interest tools and explain each "
    "pick with the reason the tool gives. When the shopper buys something, record it with interest_ingest_events "
    "(event 'purchase'). When they say they want no more of a category, record it with interest_feedback (with "
    "valid_until when they give a time limit). After recording purchases, check interest_preferences: when what "
    "they bought contradicts what they said, ask the question it suggests. Only name products the tools returned."
)
TURNS = [
    "Hi! Anything new for running?",
    "Hmm, show me hiking or camping gear instead.",
    "Great, I just bought the {bought}.",
    "And no more running gear for a month, please: I'm resting a sore knee. What else would you suggest?",
    "Funny story: a friend talked me into a 10k, so I just bought the Road running shoes, the Running socks "
    "(3 pack) and the GPS running watch.",
]


def _recs_in(messages: list[BaseMessage]) -> list[list[dict[str, Any]]]:
    """The items of every successful interest_recommend result in the conversation, oldest first."""
    return [
        list(plain(m.artifact)["items"])
        for m in messages
        if isinstance(m, ToolMessage) and m.name == "interest_recommend" and m.status != "error"
    ]


def _listing(items: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{i}. {it['title']} [{', '.join(it['categories'])}] - {it['reason']}" for i, it in enumerate(items, 1)
    )


def _said_before(messages: list[BaseMessage]) -> bool:
    """Whether a preference was recorded earlier in the conversation."""
    return any(isinstance(m, ToolMessage) and m.name == "interest_feedback" and m.status != "error" for m in messages)


def make_planner(
    categories: list[str], titles: dict[str, str] | None = None
) -> Callable[[list[BaseMessage]], AIMessage]:
    """The scripted assistant: which tools a sensible assistant calls for each of the shopper's messages."""
    by_title = {t.lower(): i for i, t in (titles or {}).items()}

    def named(text: str) -> list[str]:
        return [c for c in categories if re.search(rf"\b{re.escape(c.lower())}\b", text)]

    def planner(messages: list[BaseMessage]) -> AIMessage:
        text, tools = this_turn(messages)
        lower = text.lower()
        done = [t.name for t in tools]
        if "bought" in lower:
            if not done:
                offered = [it for items in _recs_in(messages) for it in items]
                named_items = [i for t, i in by_title.items() if t in lower]
                if not named_items:
                    named_items = [next((it for it in offered if it["title"].lower() in lower), offered[0])["item_id"]]
                now = datetime.now(UTC).isoformat()  # microseconds: after a statement made moments ago
                events = [{"item_id": i, "event": "purchase", "timestamp": now} for i in named_items]
                return call("interest_ingest_events", events=events)
            if _said_before(messages) and "interest_preferences" not in done:
                return call("interest_preferences")  # does what she bought contradict what she said?
            bought = item_title(messages, titles)
            reply = (
                f"Congratulations on the {bought}! {'They are' if ' and ' in bought else 'It is'} in your history now."
            )
            if "interest_preferences" in done:
                found = plain(result_of(tools, "interest_preferences"))["conflicts"]
                asks = [c["question"] for c in found if c["statement"] is not None]
                if asks:
                    reply += f" One thing before I suggest more: {asks[0]}"
            return AIMessage(content=reply)
        if "no more" in lower and "interest_feedback" not in done:
            dropped = named(lower.split("no more", 1)[1])[0]
            if "for a month" in lower:  # a time limit: the statement lapses by itself
                until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
                return call(
                    "interest_feedback", kind="no_more_category", category=dropped, valid_until=until, text=text
                )
            return call("interest_feedback", kind="no_more_category", category=dropped, text=text)
        if "interest_recommend" not in done:
            if "no more" in lower:  # stated preferences apply by themselves: no filter needed
                return call("interest_recommend", k=6)
            return call("interest_recommend", k=6, categories=named(lower) or None)
        items = plain(result_of(tools, "interest_recommend"))["items"]
        intro = "Noted, I'll leave that out from now on. " if "interest_feedback" in done else ""
        if not items:
            return AIMessage(content=f"{intro}Nothing new fits that request: you already have everything I'd pick.")
        return AIMessage(content=f"{intro}Here is what I'd suggest:\n{_listing(items)}")

    return planner


def item_title(messages: list[BaseMessage], titles: dict[str, str] | None = None) -> str:
    """The title(s) of the item(s) in the latest ingest call."""
    for m in reversed(messages):
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                if c["name"] == "interest_ingest_events":
                    offered = {it["item_id"]: it["title"] for items in _recs_in(messages) for it in items}
                    names = [offered.get(e["item_id"]) or (titles or {}).get(e["item_id"], e["item_id"])
                             for e in c["args"]["events"]]  # fmt: skip
                    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return "purchase"


def main(argv: list[str] | None = None) -> int:
    """Build the shop's store and run the scripted conversation."""
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    with store_dir(args.store) as root:
        step("Loading the shop (examples/data)")
        data = shop_dataset()
        say(f"{len(data.items)} products, {len(data.events)} views and purchases of "
            f"{data.events['user_id'].nunique()} shoppers")  # fmt: skip

        step(f"Building the store in {root} ({'fake embeddings' if args.fast else 'all-MiniLM-L6-v2'})")
        engine = make_engine(root, fast=args.fast)
        config = build_config(fast=args.fast, epochs=15, negatives=0)
        report = engine.build(data, config, progress=lambda m: say(m, 4))
        say(f"{report.n_windows} windows, {report.items_embedded} items embedded, times {report.seconds}")

        step(f"Shopping assistant for {SHOPPER}")
        tools = InterestToolkit.for_user(engine, SHOPPER).get_tools()
        categories = sorted({c for cs in data.items["categories"] for c in cs})
        titles = dict(zip(data.items["item_id"], data.items["title"], strict=True))
        model, label = chat_model(make_planner(categories, titles), scripted=args.scripted)
        say(f"model: {label}")
        agent = create_agent(model, tools, system_prompt=SYSTEM)

        step("Conversation")
        messages: list[BaseMessage] = []
        bought: dict[str, Any] | None = None
        for turn in TURNS:
            if "{bought}" in turn:  # she buys the first suggestion that is not running gear
                offered = _recs_in(messages)
                if not offered or not offered[-1]:
                    say("the assistant suggested nothing, so there is nothing to buy; stopping")
                    return 1
                bought = next((it for it in offered[-1] if "Running" not in it["categories"]), offered[-1][0])
                turn = turn.format(bought=bought["title"])
            messages = run_turn(agent, messages, turn)

        step("What changed between the first and the last list")
        recs = _recs_in(messages)
        last = recs[-1]
        running_before = [it["title"] for items in recs[:-1] for it in items if "Running" in it["categories"]]
        running_last = [it["title"] for it in last if "Running" in it["categories"]]
        say(f"Running items offered before the feedback: {', '.join(running_before) or 'none'}")
        say(f"Running items in the final list: {', '.join(running_last) or 'none'}")
        if bought is not None:
            again = any(it["item_id"] == bought["item_id"] for it in last)
            say(f"bought item {bought['item_id']} ({bought['title']}) in the final list: {'yes' if again else 'no'}")
        say(f"stated preferences stored: no more {', '.join(engine.preferences(SHOPPER).excluded_categories)}")
        timeline = engine.preference_timeline(SHOPPER)
        for s in timeline.statements:
            until = f", valid until {s.valid_until.date()}" if s.valid_until else ""
            say(f"timeline: {s.describe()} said {s.stated_at.date()}{until} ({s.status.replace('_', ' ')}, {s.source})")
        noticed = [c.message for c in timeline.conflicts if c.statement is not None]
        say(f"conflict noticed: {noticed[0] if noticed else 'none'}")
        say("final list: " + "; ".join(f"{it['item_id']} {it['title']} [{'|'.join(it['categories'])}]" for it in last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
