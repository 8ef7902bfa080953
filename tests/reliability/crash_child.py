"""Child side of the crash and lock tests: run a build or an ingest, dying by SIGKILL at a chosen write point.

Run as ``python crash_child.py --zygote``: it imports the package once, then reads one JSON job per line from
stdin and forks a grandchild for each (``{"event": "forked", "pid": n}``), reporting when it ends
(``{"event": "ended", "pid": n, "status": "killed"|"exited", ...}``). Jobs:

- ``build``: build ``data`` into ``store`` (``config`` "none" or "tiny"), SIGKILL at write point ``kill_at``.
- ``ingest``: ingest the ``new`` events file into the built ``store``, SIGKILL at write point ``kill_at``.
- ``done_then_die``: ingest ``new``, add feedback, print ``done``, then SIGKILL itself at once.
- ``hold_lock``: open ``stores[0]`` for writing and hold every store's writer lock until killed.
- ``forget``: forget ``user`` in the built ``store``, then compact it (as ``interest-tools forget`` does).

A write point is just before or just after each Chroma write call (upsert/add/update/delete) and each
``os.replace`` (every state file and checkpoint write), so kills land between and inside every step.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_HOOKED = ("upsert", "add", "update", "delete")


def say(**msg: Any) -> None:
    """One JSON line to stdout (whole lines are atomic on a pipe)."""
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def write_points(kill_at: int | None = None) -> Iterator[list[int]]:
    """Count write points; SIGKILL this process at point ``kill_at`` (None: only count)."""
    from chromadb.api.models.Collection import Collection

    counter = [0]

    def hit() -> None:
        counter[0] += 1
        if kill_at is not None and counter[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        def hooked(*args: Any, **kwargs: Any) -> Any:
            hit()
            result = func(*args, **kwargs)
            hit()
            return result

        return hooked

    saved: dict[str, Any] = {name: getattr(Collection, name) for name in _HOOKED}
    real_replace = os.replace
    try:
        for name, func in saved.items():
            setattr(Collection, name, wrap(func))
        os.replace = wrap(real_replace)  # type: ignore[assignment]
        yield counter
    finally:
        for name, func in saved.items():
            setattr(Collection, name, func)
        os.replace = real_replace  # type: ignore[assignment]


def run_job(job: dict[str, Any]) -> None:
    """Run one job in this (forked) process."""
    import pandas as pd
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from interest_tools.data import load_dataset
    from interest_tools.engine import Engine
    from interest_tools.forecast import ForecastConfig
    from interest_tools.pipeline import BuildConfig
    from interest_tools.settings import Settings
    from interest_tools.store import InterestStore, StoreConfig
    from interest_tools.store import _state as state

    emb = DeterministicFakeEmbedding(size=16)
    op = job["op"]
    if op == "hold_lock":
        roots = [Path(p) for p in job["stores"]]
        engine = Engine(Settings(store_path=roots[0]), embeddings=emb)
        with contextlib.ExitStack() as stack:
            for root in roots:
                stack.enter_context(state.writer_lock(root))
            engine.store.counts()  # Chroma open for writing, under the lock
            say(event="locked", pid=os.getpid())
            time.sleep(float(job.get("seconds", 120)))
        return
    settings = Settings(store_path=Path(job["store"]))
    store = InterestStore.open(emb, settings, StoreConfig(max_batch_size=int(job.get("batch", 8))))
    engine = Engine(settings, embeddings=emb, store=store)
    if op == "build":
        data = Path(job["data"])
        dataset = load_dataset(data / "events.parquet", data / "items.parquet", name="fixture")
        if job.get("config") == "tiny":
            config = BuildConfig(forecast=ForecastConfig(epochs=1, hidden_size=8, item_dim=8))
        else:
            config = BuildConfig(train_forecaster=False)
        say(event="go", pid=os.getpid())
        with write_points(job.get("kill_at")) as counter:
            engine.build(dataset, config)
        say(event="done", pid=os.getpid(), points=counter[0])
    elif op == "ingest":
        say(event="go", pid=os.getpid())
        with write_points(job.get("kill_at")) as counter:
            engine.ingest(pd.read_parquet(job["new"]))
        say(event="done", pid=os.getpid(), points=counter[0])
    elif op == "forget":
        engine.forget_user(job["user"])
        engine.compact()
        say(event="done", pid=os.getpid())
    elif op == "done_then_die":
        engine.ingest(pd.read_parquet(job["new"]))
        engine.add_feedback(job["user"], "no_more_category", category=job["category"])
        say(event="done", pid=os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        raise ValueError(f"unknown job {op!r}")


def zygote() -> None:
    """Import once, then fork one grandchild per job line; report each grandchild's end."""
    import interest_tools.engine  # noqa: F401  (the expensive imports, shared by every fork)

    children: set[int] = set()
    say(event="ready", pid=os.getpid())
    stdin_open = True
    while stdin_open or children:
        if stdin_open:
            readable, _, _ = select.select([sys.stdin], [], [], 0.05)
        else:
            readable = []
            time.sleep(0.05)
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                if os.WIFSIGNALED(status):
                    say(event="ended", pid=pid, status="killed", signal=os.WTERMSIG(status))
                else:
                    say(event="ended", pid=pid, status="exited", code=os.WEXITSTATUS(status))
        if not readable:
            continue
        line = sys.stdin.readline()
        if not line:
            stdin_open = False
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            continue
        job = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_job(job)
            except BaseException as exc:  # report, never fall back into the zygote's loop
                say(event="error", pid=os.getpid(), error=f"{type(exc).__name__}: {exc}")
                code = 3
            finally:
                sys.stdout.flush()
                os._exit(code)
        children.add(pid)
        say(event="forked", tag=job.get("tag"), pid=pid)


if __name__ == "__main__":
    if sys.argv[1:] == ["--zygote"]:
        zygote()
    else:
        run_job(json.loads(sys.argv[1]))
