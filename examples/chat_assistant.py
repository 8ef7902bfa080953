"""A LangChain agent that answers "how have my tastes changed, and what should I watch next?".

The agent gets the per-user toolkit (``InterestToolkit.for_user``), so it can only ever read the bound
user's history. It calls ``interest_explain_shift`` and ``interest_recommend`` and answers from their
results. The store is built from a slice of the bundled MovieLens data (the user, 50 other users and the
movies they rated plus 300 more), with the real embedding model unless ``--fast``.

Run::

    python examples/chat_assistant.py            # all-MiniLM-L6-v2, scripted model (or OpenAI if OPENAI_API_KEY)
    python examples/chat_assistant.py --fast     # fake embeddings, seconds
    python examples/chat_assistant.py --user 414 --question "What am I into lately?"
"""

from __future__ import annotations

import re
import sys
from typing import Any

from _common import (
    base_parser,
    build_config,
    call,
    chat_model,
    make_engine,
    movielens_slice,
    plain,
    result_of,
    run_turn,
    say,
    step,
    store_dir,
    this_turn,
)
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage

from interest_tools.adapters import InterestToolkit

QUESTION = "How have my tastes changed this year, and what should I watch next?"
SYSTEM = (
    "You help one person understand their movie tastes. Use the interest tools: explain how their interests "
    "shifted, then recommend what to watch next. Quote only facts the tools returned (categories, shares, "
    "dates, titles); never invent any."
)


def _pct(x: float) -> str:
    return f"{x:.0%}"


def final_answer(explanation: dict[str, Any], recommendations: dict[str, Any]) -> str:
    """The answer, written only from the two tool results."""
    lines: list[str] = []
    shifts = explanation.get("shifts") or []
    if shifts:
        s = shifts[0]
        since = str(s["after"]["start"])[:10]
        rising = ", ".join(f"{c['category']} ({_pct(c['before'])} -> {_pct(c['after'])})" for c in s["rising"][:3])
        falling = ", ".join(f"{c['category']} ({_pct(c['before'])} -> {_pct(c['after'])})" for c in s["falling"][:3])
        lines.append(f"Your biggest change started {since} (shift magnitude {s['magnitude']:.2f}).")
        if rising:
            lines.append(f"Up since then: {rising}.")
        if falling:
            lines.append(f"Down: {falling}.")
    else:
        lines.append("Your tastes have been steady: the history shows no significant shift.")
    stable = explanation.get("stable") or []
    if stable:
        lines.append(
            "Steady throughout: " + ", ".join(f"{c['category']} ({_pct(c['share'])})" for c in stable[:3]) + "."
        )
    items = recommendations.get("items") or []
    if items:
        lines.append("")
        lines.append("What to watch next:")
        lines.extend(f"{i}. {it['title']} - {it['reason']}" for i, it in enumerate(items, 1))
    return "\n".join(lines)


def planner(messages: list[BaseMessage]) -> AIMessage:
    """Explain the shift, then recommend, then answer from both results."""
    _, tools = this_turn(messages)
    done = {t.name for t in tools}
    if "interest_explain_shift" not in done:
        return call("interest_explain_shift")
    if "interest_recommend" not in done:
        return call("interest_recommend", k=5)
    explanation = plain(result_of(tools, "interest_explain_shift"))
    recommendations = plain(result_of(tools, "interest_recommend"))
    return AIMessage(content=final_answer(explanation, recommendations))


def grounding_check(answer: str, explanation: dict[str, Any], catalog_categories: set[str]) -> list[str]:
    """Categories the answer names that the explanation returned (printed so a reader can check)."""
    named = {c for c in catalog_categories if re.search(rf"\b{re.escape(c)}\b", answer)}
    returned = {c["category"] for s in explanation.get("shifts") or [] for key in ("rising", "falling") for c in s[key]}
    returned |= {c["category"] for c in explanation.get("stable") or []}
    return sorted(named & returned)


def main(argv: list[str] | None = None) -> int:
    """Build the store, run the agent on the question, print every step."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--user", default="318", help="MovieLens user id (default 318: documentaries rise)")
    parser.add_argument("--question", default=QUESTION, help="what the user asks")
    args = parser.parse_args(argv)

    with store_dir(args.store) as root:
        step(f"Loading a MovieLens slice around user {args.user}")
        data = movielens_slice([args.user])
        say(f"{len(data.events):,} ratings of {data.events['user_id'].nunique()} users, {len(data.items):,} movies")

        step(f"Building the store in {root} ({'fake embeddings' if args.fast else 'all-MiniLM-L6-v2'})")
        engine = make_engine(root, fast=args.fast)
        config = build_config(fast=args.fast, epochs=10, negatives=256)
        report = engine.build(data, config, progress=lambda m: say(m, 4))
        say(f"{report.n_windows} windows, {report.items_embedded} items embedded, times {report.seconds}")

        step(f"Agent with the per-user toolkit bound to user {args.user}")
        tools = InterestToolkit.for_user(engine, args.user).get_tools()
        model, label = chat_model(planner, scripted=args.scripted)
        say(f"model: {label}; tools: {', '.join(t.name for t in tools)}")
        agent = create_agent(model, tools, system_prompt=SYSTEM)

        step("Conversation")
        messages = run_turn(agent, [], args.question)
        answer = str(messages[-1].content)

        step("Grounding check")
        _, tool_messages = this_turn(messages)
        explanation = (
            plain(result_of(tool_messages, "interest_explain_shift"))
            if any(t.name == "interest_explain_shift" for t in tool_messages)
            else {}
        )
        cats = {c for cs in data.items["categories"] for c in cs}
        grounded = grounding_check(answer, explanation, cats)
        say(f"categories in the answer that interest_explain_shift returned: {', '.join(grounded) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
