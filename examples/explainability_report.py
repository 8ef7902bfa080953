"""Explainability reports for several users on demand, written by an agent with the operator toolkit.

An operator asks "write reports for users A, B and C". The agent has the operator tools (they take
``user_id``; only the read tools and ``interest_report`` are given, nothing that writes data) and calls
``interest_explain_shift`` and ``interest_report`` for each user. Reports go to ``--out``; the script then
prints each path and the first lines of each user's narrative. A user that is not stored comes back as a tool
error naming valid users, and the other reports are still written. ``--no-agent`` calls ``Engine.report``
directly instead.

Run::

    python examples/explainability_report.py                      # shop data: maya, leo, ana (HTML)
    python examples/explainability_report.py maya leo --format md --out reports
    python examples/explainability_report.py 318 414 --dataset movielens
    python examples/explainability_report.py --fast --no-agent    # fake embeddings, no agent
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    build_config,
    call,
    chat_model,
    make_engine,
    movielens_slice,
    plain,
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
from interest_tools.engine import Engine

DEFAULT_USERS = {"shop": ["maya", "leo", "ana"], "movielens": ["318", "414", "474"]}
TOOLS = ["interest_windows", "interest_summaries", "interest_explain_shift", "interest_forecast", "interest_report"]
SYSTEM = (
    "You are an analyst's assistant. When asked for reports, call interest_report once per user (and "
    "interest_explain_shift for the same users to quote the gist). Then list every file written per user, with "
    "the first sentence of that user's narrative, and say which users failed and why."
)


def request_users(text: str) -> list[str]:
    """The user ids in a request like 'Write html reports for users: a, b and c.'."""
    tail = text.split(":", 1)[1].rstrip(".")
    return [u for u in re.split(r",\s*|\s+and\s+", tail.strip()) if u]


def planner(messages: list[BaseMessage]) -> AIMessage:
    """Call both tools for every requested user at once (parallel tool calls), then summarise the results."""
    text, tools = this_turn(messages)
    fmt = "md" if "markdown" in text.lower() else "html"
    if not tools:
        calls = [call("interest_explain_shift", user_id=u) for u in request_users(text)]
        calls += [call("interest_report", user_id=u, format=fmt) for u in request_users(text)]
        return AIMessage(content="", tool_calls=[c for m in calls for c in m.tool_calls])
    lines: list[str] = []
    by_id = {m.tool_call_id: m for m in tools}
    asked = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    for c in asked:
        reply = by_id.get(c["id"] or "")
        if reply is None or c["name"] != "interest_report":
            continue
        user = c["args"]["user_id"]
        if reply.status == "error":
            lines.append(f"- {user}: no report ({reply.content})")
            continue
        narrative = next(
            (str(plain(by_id[e["id"]].artifact)["narrative"]) for e in asked
             if e["name"] == "interest_explain_shift" and e["args"]["user_id"] == user and e["id"] in by_id
             and by_id[e["id"]].status != "error"),
            "",
        )  # fmt: skip
        first = narrative.split("\n")[0]
        lines.append(f"- {user}: {', '.join(plain(reply.artifact)['files'])}" + (f"\n  {first}" if first else ""))
    return AIMessage(content="Reports:\n" + "\n".join(lines))


def build(engine: Engine, dataset: str, users: list[str], fast: bool) -> None:
    """Build the store from the shop data or a MovieLens slice around the users."""
    if dataset == "shop":
        data = shop_dataset()
    else:
        data = movielens_slice([u for u in users if u.isdigit()] or DEFAULT_USERS["movielens"])
    say(f"{len(data.events):,} events of {data.events['user_id'].nunique()} users, {len(data.items):,} items")
    report = engine.build(data, build_config(fast=fast, epochs=10, negatives=256), progress=lambda m: say(m, 4))
    say(f"{report.n_windows} windows, {report.items_embedded} items embedded, times {report.seconds}")


def first_lines(text: str, n: int = 3) -> str:
    """The first ``n`` non-empty lines."""
    return "\n".join([line for line in text.splitlines() if line.strip()][:n])


def main(argv: list[str] | None = None) -> int:
    """Build the store, have the agent (or the engine) write the reports, print paths and narratives."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("users", nargs="*", help="user ids (default: 3 users of the dataset)")
    parser.add_argument("--dataset", choices=["shop", "movielens"], default="shop", help="which example data")
    parser.add_argument("--format", choices=["html", "md"], default="html", help="report format")
    parser.add_argument("--out", type=Path, default=Path("interest_reports"), help="output folder")
    parser.add_argument("--no-agent", action="store_true", help="call Engine.report directly, without an agent")
    args = parser.parse_args(argv)
    users: list[str] = args.users or DEFAULT_USERS[args.dataset]
    args.out.mkdir(parents=True, exist_ok=True)

    with store_dir(args.store) as root:
        step(f"Building the {args.dataset} store in {root} ({'fake embeddings' if args.fast else 'all-MiniLM-L6-v2'})")
        engine = make_engine(root, fast=args.fast)
        build(engine, args.dataset, users, args.fast)

        written: dict[str, list[str]] = {}
        if args.no_agent:
            step("Writing reports with Engine.report")
            for user in users:
                if user not in engine.users():
                    say(f"{user}: not stored (valid users include {', '.join(engine.users()[:8])})")
                    continue
                path = args.out / f"{user}.{args.format}"
                written[user] = [str(p) for p in engine.report(user, path, args.format)]
        else:
            step("Asking the agent (operator toolkit: read tools + interest_report)")
            toolkit = InterestToolkit(engine=engine, report_dir=args.out, include=TOOLS)
            model, label = chat_model(planner, scripted=args.scripted)
            say(f"model: {label}")
            agent = create_agent(model, toolkit.get_tools(), system_prompt=SYSTEM)
            fmt = "Markdown" if args.format == "md" else "HTML"
            messages = run_turn(agent, [], f"Write {fmt} reports for users: {', '.join(users)}.")
            _, tool_messages = this_turn(messages)
            written = _files_from(tool_messages)

        step(f"Reports in {args.out}")
        for user in users:
            if user not in written:
                say(f"{user}: no report")
                continue
            for f in written[user]:
                print(f"  {user}: {f} ({Path(f).stat().st_size:,} bytes)")  # unwrapped: paths are long
            say(first_lines(engine.explain(user).narrative), indent=6)
    return 0


def _files_from(tool_messages: list[ToolMessage]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in tool_messages:
        if m.name == "interest_report" and m.status != "error":
            result: dict[str, Any] = plain(m.artifact)
            out[result["user_id"]] = list(result["files"])
    return out


if __name__ == "__main__":
    sys.exit(main())
