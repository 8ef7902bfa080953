"""Shared plumbing of the examples: the chat model (real or scripted), the engine, and readable printing.

Offline, the examples drive the agent with :class:`ScriptedChatModel`: a chat model that emits real tool
calls chosen by a small ``planner`` function from the conversation so far, so the LangChain agent loop, the
tools and their results are all real; only the "thinking" is scripted. With ``OPENAI_API_KEY`` set (and no
``--scripted``), a real ``ChatOpenAI`` model plans instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
if str(REPO) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(REPO))

from interest_tools.data import Dataset, load_dataset  # noqa: E402
from interest_tools.datasets import load_movielens_small  # noqa: E402
from interest_tools.engine import Engine  # noqa: E402
from interest_tools.forecast import ForecastConfig  # noqa: E402
from interest_tools.pipeline import BuildConfig  # noqa: E402
from interest_tools.settings import Settings  # noqa: E402

Planner = Callable[[list[BaseMessage]], AIMessage]


class ScriptedChatModel(BaseChatModel):
    """A fake chat model whose next message (tool calls or a final answer) comes from ``planner(messages)``.

    ``bind_tools`` keeps the names of the bound tools, and every planned tool call is checked against them,
    so the script cannot drift away from the toolkit it runs against.
    """

    planner: Planner
    tool_names: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        names = [getattr(t, "name", None) or t.get("name") for t in tools]  # BaseTool or dict
        return self.model_copy(update={"tool_names": [str(n) for n in names]})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self.planner(list(messages))
        for call in message.tool_calls:
            if self.tool_names and call["name"] not in self.tool_names:
                raise ValueError(f"scripted call to unknown tool {call['name']!r}; bound: {self.tool_names}")
        return ChatResult(generations=[ChatGeneration(message=message)])


_CALLS = [0]


def call(name: str, **args: Any) -> AIMessage:
    """An assistant message that calls one tool."""
    _CALLS[0] += 1
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{_CALLS[0]}"}])


def this_turn(messages: list[BaseMessage]) -> tuple[str, list[ToolMessage]]:
    """The latest user message and the tool results that came after it, oldest first."""
    last = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    return str(messages[last].content), [m for m in messages[last + 1 :] if isinstance(m, ToolMessage)]


def result_of(tools: list[ToolMessage], name: str) -> Any:
    """The artifact (structured result) of the latest call to tool ``name``, else its parsed content."""
    for m in reversed(tools):
        if m.name == name:
            if m.artifact is not None:
                return m.artifact
            try:
                return json.loads(str(m.content))
            except ValueError:
                return m.content
    raise KeyError(name)


def plain(value: Any) -> Any:
    """A tool result as plain JSON data: the artifact as is (pydantic models dumped), or JSON text parsed."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def chat_model(planner: Planner, *, scripted: bool) -> tuple[BaseChatModel, str]:
    """A real OpenAI chat model when ``OPENAI_API_KEY`` is set (and not ``--scripted``), else the scripted one."""
    if os.environ.get("OPENAI_API_KEY") and not scripted:
        from langchain_openai import ChatOpenAI

        name = os.environ.get("INTEREST_TOOLS_CHAT_MODEL", "gpt-4o-mini")
        base_url = os.environ.get("INTEREST_TOOLS_OPENAI_BASE_URL")  # an OpenAI-compatible endpoint, if any
        return ChatOpenAI(model=name, temperature=0, base_url=base_url), f"ChatOpenAI({name})"
    return ScriptedChatModel(planner=planner), "scripted fake model (offline; set OPENAI_API_KEY for a real one)"


def base_parser(description: str) -> argparse.ArgumentParser:
    """Flags every example shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--fast", action="store_true", help="fake embeddings instead of all-MiniLM-L6-v2 (seconds; for tests)"
    )
    parser.add_argument("--scripted", action="store_true", help="use the scripted model even if OPENAI_API_KEY is set")
    parser.add_argument("--store", type=Path, default=None,
                        help="store directory (default: a temporary one, deleted afterwards)")  # fmt: skip
    return parser


@contextmanager
def store_dir(path: Path | None) -> Iterator[Path]:
    """The given directory, or a temporary one removed at the end."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix="interest_example_"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def make_engine(root: Path, *, fast: bool) -> Engine:
    """An engine storing under ``root``: the real embedding model, or fake embeddings with ``--fast``."""
    settings = Settings(store_path=root)
    if fast:
        from langchain_core.embeddings import DeterministicFakeEmbedding

        return Engine(settings, embeddings=DeterministicFakeEmbedding(size=32))
    return Engine(settings)


def build_config(*, fast: bool, epochs: int = 15, negatives: int = 256) -> BuildConfig:
    """A quick build: a small LSTM on monthly windows (the CLI default trains a larger one for longer).

    With ``--fast`` the forecaster trains for 3 epochs only: enough for the tools to answer, not to rank well.
    """
    epochs = 3 if fast else epochs
    forecast = ForecastConfig(window_label="month", epochs=epochs, patience=epochs, lr=1e-2, hidden_size=32,
                              item_dim=32, negatives=negatives)  # fmt: skip
    return BuildConfig(forecast=forecast)


def movielens_slice(user_ids: list[str], n_others: int = 50, n_extra_items: int = 300, seed: int = 7) -> Dataset:
    """The given users, ``n_others`` light users, the movies they rated and ``n_extra_items`` more (seeded).

    A slice keeps the examples quick: embedding all 9,742 movies with the real model takes about a minute.
    """
    full = load_movielens_small()
    events = full.events
    counts = events.groupby("user_id").size()
    missing = [u for u in user_ids if u not in counts.index]
    if missing:
        raise SystemExit(f"user(s) {missing} are not in MovieLens; try 318, 414 or 474")
    rng = np.random.default_rng(seed)
    light = sorted(u for u in counts[(counts >= 20) & (counts <= 120)].index if u not in user_ids)
    users = [*user_ids, *rng.choice(light, size=min(n_others, len(light)), replace=False).tolist()]
    sub = events[events["user_id"].isin(users)].reset_index(drop=True)
    used = full.items["item_id"].isin(set(sub["item_id"]))
    extra = full.items[~used].sample(n=n_extra_items, random_state=seed)["item_id"]
    items = full.items[used | full.items["item_id"].isin(extra)].reset_index(drop=True)
    return Dataset(events=sub, items=items, name="movielens-small-slice")


def shop_dataset() -> Dataset:
    """The example shop (examples/data/shop_*.csv, written by make_shop_data.py)."""
    return load_dataset(DATA / "shop_events.csv", DATA / "shop_items.csv", name="example-shop")


_T0 = time.perf_counter()


def step(title: str) -> None:
    """Print a numbered-looking section header with the elapsed time."""
    print(f"\n== {title}  [{time.perf_counter() - _T0:.1f} s]", flush=True)


def say(text: str, indent: int = 2) -> None:
    """Print wrapped text."""
    for para in str(text).splitlines() or [""]:
        print(textwrap.fill(para, width=110, initial_indent=" " * indent, subsequent_indent=" " * indent) or "")
    sys.stdout.flush()


def run_turn(agent: Any, messages: list[BaseMessage], user_text: str) -> list[BaseMessage]:
    """Send one user message through the agent, print every tool call, result and the reply; return the history."""
    print(f"\nUSER: {user_text}")
    start = len(messages) + 1
    out: list[BaseMessage] = agent.invoke({"messages": [*messages, HumanMessage(user_text)]})["messages"]
    for m in out[start:]:
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                print(f"  -> tool call {c['name']}({json.dumps(c['args'], default=str)})")
            if m.content and not m.tool_calls:
                print("ASSISTANT:")
                say(str(m.content))
        elif isinstance(m, ToolMessage):
            text = str(m.content)
            text = text[:600] + (" ..." if len(text) > 600 else "")
            print(f"  <- {m.name}: " + text.replace("\n", "\n       "))
    sys.stdout.flush()
    return out
