"""Cache of LLM window summaries (in memory or ``summaries.sqlite``), with each entry's user so it can be forgotten."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from interest_tools.errors import StoreError


class SummaryCache:
    """LLM summaries by key, with the user stored beside each entry so that a user can be forgotten.

    Args:
        cache_dir: Directory of ``summaries.sqlite``; ``None`` keeps entries in memory.
    """

    FILE_NAME = "summaries.sqlite"

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.path = None if cache_dir is None else Path(cache_dir) / self.FILE_NAME
        self._memory: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._sql(
                "CREATE TABLE IF NOT EXISTS summaries (key TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
                "value TEXT NOT NULL, created REAL NOT NULL)"
            )
            self._sql("CREATE INDEX IF NOT EXISTS summaries_user ON summaries (user_id)")

    def _sql(self, query: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            with self._lock, closing(sqlite3.connect(self.path, timeout=30)) as con:  # type: ignore[arg-type]
                con.execute("PRAGMA secure_delete = ON")
                with con:  # one transaction, committed on success
                    rows = con.execute(query, args).fetchall()
                return rows if query.startswith("SELECT") else [con.total_changes]
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"summary cache {self.path} is unreadable ({exc}); delete the file to start an empty cache"
            ) from exc

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the cached value of ``key``, or ``None``."""
        if self.path is None:
            with self._lock:
                hit = self._memory.get(key)
            return None if hit is None else json.loads(hit[1])
        rows = self._sql("SELECT value FROM summaries WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def put(self, key: str, user_id: str, value: Mapping[str, Any]) -> None:
        """Store ``value`` (JSON-serialisable) under ``key`` for ``user_id``."""
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        if self.path is None:
            with self._lock:
                self._memory[key] = (user_id, text)
            return
        self._sql(
            "INSERT OR REPLACE INTO summaries (key, user_id, value, created) VALUES (?, ?, ?, ?)",
            (key, user_id, text, time.time()),
        )

    def forget_user(self, user_id: str) -> int:
        """Delete every cached summary of ``user_id`` (overwriting the freed pages); return how many."""
        if self.path is None:
            with self._lock:
                keys = [k for k, (u, _) in self._memory.items() if u == user_id]
                for k in keys:
                    del self._memory[k]
            return len(keys)
        return self._sql("DELETE FROM summaries WHERE user_id = ?", (user_id,))[0]

    def __len__(self) -> int:
        if self.path is None:
            return len(self._memory)
        return int(self._sql("SELECT COUNT(*) FROM summaries")[0][0])
