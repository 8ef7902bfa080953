"""Helpers of the scale benchmark: per-phase peak memory, a memory guard, and random item vectors.

Peak memory: Linux keeps a process's resident high-water mark (``VmHWM``, also what ``ru_maxrss`` reports);
writing ``5`` to ``/proc/self/clear_refs`` resets it to the current resident size, so a phase's peak can be read
on its own (:class:`Phase`). Where that file cannot be written, phase peaks fall back to the process peak.

Item vectors: the real model would take hours to embed 200k item texts on 2 cores, so the scale benchmark uses
seeded random unit vectors of the real model's dimension (384); store, LSTM and retrieval costs depend on the
dimension and the counts, not on the values.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status_mib(key: str) -> float:
    match = re.search(rf"{key}:\s+(\d+) kB", _STATUS.read_text())
    return round(int(match.group(1)) / 1024, 1) if match else -1.0


def rss_mib() -> float:
    """Current resident memory of this process, MiB."""
    return _status_mib("VmRSS")


def peak_mib() -> float:
    """Resident high-water mark of this process (since the last :func:`reset_peak`), MiB."""
    return _status_mib("VmHWM")


def reset_peak() -> bool:
    """Reset the resident high-water mark to the current size; False when the kernel does not allow it."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


class Phase:
    """Wall seconds, CPU seconds and resident peak of one phase: ``with Phase("train", out): ...``.

    Writes ``{name}_s``, ``{name}_cpu_s``, ``{name}_peak_rss_mib`` (absolute: everything resident during the
    phase, including what earlier phases left) and ``{name}_rss_before_mib`` into ``out``.
    """

    def __init__(self, name: str, out: dict[str, Any]) -> None:
        self.name, self.out = name, out

    def __enter__(self) -> Phase:
        self.out[f"{self.name}_rss_before_mib"] = rss_mib()
        reset_peak()
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.out[f"{self.name}_s"] = round(time.perf_counter() - self.t, 3)
        self.out[f"{self.name}_cpu_s"] = round(time.process_time() - self.c, 3)
        self.out[f"{self.name}_peak_rss_mib"] = peak_mib()


class MemoryGuard:
    """Ends the process (exit 3, one JSON line naming the limit) when resident memory passes ``limit_mib``.

    The machine is shared: a run that would push others into the OOM killer stops itself instead. The JSON line
    lets the parent record the size as "does not fit" with the reason.
    """

    def __init__(self, limit_mib: float, what: str, interval_s: float = 0.05) -> None:
        self.limit, self.what, self.interval = limit_mib, what, interval_s
        self.stage = "start"
        self.max_seen = 0.0
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            rss = rss_mib()
            self.max_seen = max(self.max_seen, rss)
            if rss > self.limit:
                import json

                sys.stdout.write(
                    json.dumps(
                        {
                            "error": f"stopped by the memory guard: resident memory {rss:.0f} MiB passed the "
                            f"{self.limit:.0f} MiB limit during '{self.stage}' of {self.what}",
                            "stage": self.stage,
                            "rss_mib_at_stop": rss,
                        }
                    )
                    + "\n"
                )
                sys.stdout.flush()
                os._exit(3)
            time.sleep(self.interval)


def random_unit_vectors(n: int, dim: int = DIM, seed: int = 7) -> np.ndarray:
    """``n`` seeded random unit vectors, float32, shape ``(n, dim)``."""
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((n, dim), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


class RandomItemEmbeddings:
    """LangChain-style embeddings that give each synthetic item its precomputed random unit vector.

    The synthetic items' titles are their ids (``i000123``), and the store embeds ``"<title>. Categories: ..."``,
    so the row is read off the text; any other text (a query) gets a vector seeded by its hash.
    """

    model_name = "random-unit-384"
    size = DIM

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    def _one(self, text: str) -> np.ndarray:
        head = text.split(".", 1)[0]
        if head.startswith("i") and head[1:].isdigit() and int(head[1:]) < len(self.vectors):
            return self.vectors[int(head[1:])]
        rng = np.random.default_rng(abs(hash(text)) % 2**32)
        v = rng.standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_documents(self, texts: list[str]) -> Any:
        """Vectors of many texts, as one float32 matrix (the store takes it as the real encoder's matrix)."""
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)

    def embed_query(self, text: str) -> list[float]:
        """Vector of one text."""
        return self._one(text).tolist()


def load_avg() -> float:
    """One-minute load average (-1 where unknown)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return -1.0
