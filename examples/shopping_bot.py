"""A conversational shopping assistant on a small outdoor-and-home shop (examples/data/shop_*.csv).

Shopper ``maya`` ran in the first half of 2024 and has hiked and camped since July. In the chat she asks
for running gear, then for hiking or camping gear instead (category filters on ``interest_recommend``), buys
one (``interest_ingest_events`` adds the purchase to her history at once), says she is done with running
(``interest_feedback``: no more Running), and gets a last, unfiltered list that reflects both: no Running,
and not what she just bought.

Run::

    python examples/shopping_bot.py          # all-MiniLM-L6-v2, scripted model (or OpenAI if OPENAI_API_KEY)
    python examples/shopping_bot.py --fast   # fake embeddings, seconds
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
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
    "(event 'purchase'). When they say they want no more of a category, record it with interest_feedback. Only "
    "name products the tools returned."
)
TURNS = [
    "Hi! Anything new for running?",
    "Hmm, show me hiking or camping gear instead.",
    "Great, I just bought the {bought}.",
    "And no more running gear, please: I've stopped running. What else would you suggest?",
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


def make_planner(categories: list[str]) -> Callable[[list[BaseMessage]], AIMessage]:
    """The scripted assistant: which tools a sensible assistant calls for each of the shopper's messages."""

    def named(text: str) -> list[str]:
        return [c for c in categories if re.search(rf"\b{re.escape(c.lower())}\b", text)]

    def planner(messages: list[BaseMessage]) -> AIMessage:
        text, tools = this_turn(messages)
        lower = text.lower()
        done = [t.name for t in tools]
        if "bought" in lower:
            if not done:
                offered = [it for items in _recs_in(messages) for it in items]
                item = next((it for it in offered if it["title"].lower() in lower), offered[0])
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                event = {"item_id": item["item_id"], "event": "purchase", "timestamp": now}
                return call("interest_ingest_events", events=[event])
            return AIMessage(content=f"Congratulations on the {item_title(messages)}! It is in your history now.")
        if "no more" in lower and "interest_feedback" not in done:
            dropped = named(lower.split("no more", 1)[1])[0]
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


def item_title(messages: list[BaseMessage]) -> str:
    """The title of the item in the latest ingest call."""
    for m in reversed(messages):
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                if c["name"] == "interest_ingest_events":
                    item_id = c["args"]["events"][0]["item_id"]
                    offered = [it for items in _recs_in(messages) for it in items]
                    return next((it["title"] for it in offered if it["item_id"] == item_id), item_id)
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
        model, label = chat_model(make_planner(categories), scripted=args.scripted)
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
        say("final list: " + "; ".join(f"{it['item_id']} {it['title']} [{'|'.join(it['categories'])}]" for it in last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
