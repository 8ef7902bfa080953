"""The child program behind :func:`interest_tools.store._health.deep_check`: open a Chroma directory and read it.

Run as ``python -m interest_tools.store._probe CHROMA_DIR``. Some damage makes Chroma kill the process that
reads it (a segmentation fault or a Rust panic), so this runs in a child process and reports its progress as one
JSON line per stage on stdout: ``sqlite`` (SQLite's own integrity check), ``collection`` (before reading each
collection, so a crash names the collection), then ``done`` with every collection's count and metadata and the
problems found. The parent reads the last line it got.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from typing import Any

PAGE = 500


def _say(stage: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"stage": stage, **fields}) + "\n")
    sys.stdout.flush()


def _sqlite_problems(path: str) -> list[str]:
    db = os.path.join(path, "chroma.sqlite3")
    if not os.path.isfile(db):
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = [r[0] for r in con.execute("PRAGMA quick_check").fetchall()]
        con.close()
    except sqlite3.DatabaseError as exc:
        return [f"chroma.sqlite3 cannot be read: {exc}"]
    if rows != ["ok"]:
        return ["chroma.sqlite3 fails its integrity check: " + "; ".join(map(str, rows[:5]))]
    return []


def _read_collection(col: Any, problems: list[str]) -> dict[str, Any]:
    """Read every record page by page and query once; record what does not add up."""
    name, count = col.name, col.count()
    seen, first = 0, None
    while True:
        got = col.get(limit=PAGE, offset=seen, include=["embeddings"])
        if not got["ids"]:
            break
        if first is None and got["embeddings"] is not None and len(got["embeddings"]):
            first = [float(x) for x in got["embeddings"][0]]
        seen += len(got["ids"])
    if seen != count:
        problems.append(f"collection '{name}' counts {count} records but {seen} can be read")
    if first is not None:
        hits = col.query(query_embeddings=[first], n_results=min(10, count), include=["distances"])
        if not hits["ids"] or not hits["ids"][0]:
            problems.append(f"collection '{name}' answers no query although it holds {count} records")
    return {"count": count, "metadata": dict(col.metadata or {})}


def main(argv: list[str] | None = None) -> None:
    """Check the Chroma directory named by the first argument, reporting each stage on stdout."""
    path = (argv if argv is not None else sys.argv[1:])[0]
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    out: dict[str, Any] = {"collections": {}, "problems": _sqlite_problems(path)}
    _say("sqlite", **out)
    import chromadb  # only now: the SQLite check above must not depend on Chroma
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
    for col in client.list_collections():
        _say("collection", name=col.name)
        out["collections"][col.name] = _read_collection(col, out["problems"])
    _say("done", **out)


if __name__ == "__main__":
    main()
