"""Shared helpers of the benchmarks: machine description, load, and writing one JSON result."""

from __future__ import annotations

import json
import os
import platform
import resource
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on (the machine may be shared: compare ratios, not seconds)."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on every platform
        load = -1.0
    try:
        import torch

        torch_threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        torch_threads = -1
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch_threads": torch_threads,
        "load_avg_1m_at_start": round(load, 2),
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def emit(result: dict[str, Any], out: Path | None, default_name: str) -> None:
    """Print the result as one JSON object and write it under benchmarks/results/ (or ``out``)."""
    text = json.dumps(result, indent=2, default=str)
    print(text, flush=True)
    path = out or RESULTS / default_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
