"""Helpers of the reliability suite: fixture data, fast engines, store snapshots, and child processes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from interest_tools.data import Dataset, canonicalize_events
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings
from interest_tools.store import InterestStore
from tests.harness.data import make_events, make_items

REPO = Path(__file__).resolve().parents[2]
#: The crash child runs as a script from here (the zygote forks it per job).
RELIABILITY = REPO / "tests" / "reliability"
DIM = 16
#: Template summaries, no forecaster: the fastest build (about a second).
NO_FORECAST = BuildConfig(train_forecaster=False)
#: Template summaries and a tiny LSTM (a few seconds on one core).
TINY = BuildConfig(forecast=ForecastConfig(epochs=1, hidden_size=8, item_dim=8))
#: Files under the store root that are not part of what is stored (the lock file holds the last writer's pid).
NOT_CONTENT = {".write.lock"}


def fixture_dataset(extra_users: int = 0) -> Dataset:
    """The shared fixture data (u1, u2, u3 over 2020), optionally with copies of it under more user ids."""
    events = make_events()
    frames = [events] + [events.assign(user_id=events["user_id"] + f"x{n}") for n in range(extra_users)]
    return Dataset(events=canonicalize_events(pd.concat(frames, ignore_index=True)), items=make_items(), name="fixture")


def new_events(user: str = "u2", item: str = "i11", when: str = "2021-01-05T00:00:00Z") -> pd.DataFrame:
    """One new event, in the raw form a caller passes to ``ingest``."""
    return pd.DataFrame({"user_id": [user], "item_id": [item], "timestamp": [when], "rating": [5.0]})


def fake_embeddings() -> DeterministicFakeEmbedding:
    """Deterministic 16-dim embeddings (same text, same vector, in every process)."""
    return DeterministicFakeEmbedding(size=DIM)


def persistent_engine(root: Path, **kwargs: Any) -> Engine:
    """An engine over a persistent store at ``root`` with fake embeddings (Chroma opens lazily, as in production)."""
    return Engine(Settings(store_path=root), embeddings=kwargs.pop("embeddings", fake_embeddings()), **kwargs)


def memory_engine(root: Path, **kwargs: Any) -> Engine:
    """An engine with an in-memory Chroma store (state files still under ``root``)."""
    emb = kwargs.pop("embeddings", fake_embeddings())
    return Engine(Settings(store_path=root), embeddings=emb, store=InterestStore.in_memory(emb), **kwargs)


# ---------------------------------------------------------------------------------------------- snapshots


def dump_collections(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every record of the engine's two collections: ids (sorted), documents, metadata and vectors."""
    out: dict[str, dict[str, Any]] = {}
    store = engine.store
    for which in ("items", "windows"):
        got: Any = store.records(which)
        order: list[int] = [int(i) for i in np.argsort(np.asarray(got["ids"], dtype=object))] if got["ids"] else []
        out[which] = {
            "ids": [got["ids"][i] for i in order],
            "documents": [got["documents"][i] for i in order],
            "metadatas": [dict(got["metadatas"][i]) for i in order],
            "vectors": np.asarray([got["embeddings"][i] for i in order], dtype=np.float32).reshape(len(order), -1),
        }
    return out


def file_digests(root: Path, skip_dirs: tuple[str, ...] = ("chroma",)) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (relative path -> digest), except Chroma's own files and the lock."""
    digests = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in skip_dirs and rel.name not in NOT_CONTENT:
            digests[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def snapshot(engine: Engine) -> dict[str, Any]:
    """What is stored: state-file bytes, store counts, and every id, document, metadata and vector."""
    dump = dump_collections(engine)
    return {
        "files": file_digests(engine.root),
        "counts": engine.store.counts(),
        "ids": {k: v["ids"] for k, v in dump.items()},
        "documents": {k: v["documents"] for k, v in dump.items()},
        "metadatas": {k: v["metadatas"] for k, v in dump.items()},
        "vectors": {k: v["vectors"].tobytes() for k, v in dump.items()},
    }


def assert_same_store(a: Engine, b: Engine, *, atol: float = 1e-6) -> None:
    """Two stores hold the same records (ids, documents, metadata; vectors within ``atol``) and state frames.

    The suite's fake embedding is a function of the text alone (seeded by its hash), so equal texts give equal
    float32 vectors whatever the batch, order or thread count; ``atol=1e-6`` only allows for the float64 ->
    float32 storage round trip, and a real model needs the cosine bound of tests/harness/vectors.py instead.
    """
    da, db = dump_collections(a), dump_collections(b)
    for which in ("items", "windows"):
        assert da[which]["ids"] == db[which]["ids"], which
        assert da[which]["documents"] == db[which]["documents"], which
        assert da[which]["metadatas"] == db[which]["metadatas"], which
        np.testing.assert_allclose(da[which]["vectors"], db[which]["vectors"], atol=atol, err_msg=which)
    for name in ("data/events.parquet", "data/items.parquet", "data/summaries.parquet"):
        fa, fb = pd.read_parquet(a.root / name), pd.read_parquet(b.root / name)
        pd.testing.assert_frame_equal(fa, fb, check_like=False, obj=name)
    sa = json.loads((a.root / "state.json").read_text())
    sb = json.loads((b.root / "state.json").read_text())
    for key in ("updated_at", "generation"):  # when and how many writes, not what is stored
        sa.pop(key, None)
        sb.pop(key, None)
    assert sa == sb


# ---------------------------------------------------------------------------------------------- fake chat model


class RecordingChatModel(BaseChatModel):
    """Records every prompt; answers with :meth:`answer` (a JSON summary naming the window's first item)."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _prompts: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    @property
    def prompts(self) -> list[list[BaseMessage]]:
        with self._lock:
            return list(self._prompts)

    def answer(self, messages: list[BaseMessage]) -> str:
        """Default: a grounded summary built from the window data block."""
        text = str(messages[-1].content)
        if "<window_data>" not in text:
            return "You mostly stayed with your usual interests."
        block = json.loads(text.split("<window_data>\n", 1)[1].split("\n</window_data>", 1)[0])
        cat, item = block["categories"][0]["name"], block["items"][0]
        return json.dumps(
            {
                "summary": f"In {block['period']} you mostly chose {cat}.",
                "mentioned_categories": [cat],
                "mentioned_item_ids": [item["id"]],
            }
        )

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        with self._lock:
            self._prompts.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.answer(messages)))])


# ---------------------------------------------------------------------------------------------- child processes


class Zygote:
    """A child Python that imports the package once, then forks one grandchild per job (see crash_child.py).

    Forking from a process that has imported (but never used) torch, Chroma and pandas makes each job start in
    milliseconds instead of the seconds a fresh interpreter needs.
    """

    def __init__(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "ANONYMIZED_TELEMETRY": "False",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "ARROW_DEFAULT_MEMORY_POOL": "system",
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(RELIABILITY / "crash_child.py"), "--zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        self._lines: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.wait_for(lambda m: m.get("event") == "ready", timeout=120)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self._cond:
                    self._lines.append(json.loads(line))
                    self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def wait_for(self, match: Any, timeout: float = 60) -> dict[str, Any]:
        """The first message (since start) for which ``match`` is true; raises after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self._lines:
                    if match(msg):
                        self._lines.remove(msg)
                        return msg
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no matching message; stderr tail: {''.join(self._stderr[-20:])}")
                self._cond.wait(min(left, 0.5))

    def start(self, job: dict[str, Any]) -> int:
        """Fork a grandchild for ``job``; return its pid."""
        assert self.proc.stdin is not None
        tag = f"job{time.monotonic_ns()}"
        self.proc.stdin.write(json.dumps({**job, "tag": tag}) + "\n")
        self.proc.stdin.flush()
        return int(self.wait_for(lambda m: m.get("event") == "forked" and m.get("tag") == tag)["pid"])

    def result(self, pid: int, timeout: float = 120) -> dict[str, Any]:
        """Wait for the grandchild to end: ``{"status": "killed"|"exited", "signal"|"code": n}``."""
        return self.wait_for(lambda m: m.get("event") == "ended" and m.get("pid") == pid, timeout)

    def close(self) -> None:
        """Stop the zygote."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def clone_store(src: Path, dst: Path) -> Path:
    """Copy a store directory whose engine is closed (or at rest) to ``dst``."""
    shutil.copytree(src, dst)
    return dst
