"""`interest-tools build` on the bundled dataset, offline, twice: the second run re-embeds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration


def run_build(store) -> tuple[dict, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "interest_tools", "build", "--store", str(store), "--no-forecaster", "--json"],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout), time.perf_counter() - started


def test_build_twice_second_run_embeds_nothing(tmp_path):
    store = tmp_path / "store"
    first, first_s = run_build(store)
    assert first["n_items"] == 9742 and first["n_users"] == 610 and first["n_events"] == 100836
    assert first["items_embedded"] == 9742
    assert first["windows_embedded"] == first["n_windows"] > 2000
    second, second_s = run_build(store)
    assert second["items_embedded"] == 0 and second["windows_embedded"] == 0
    assert second["n_windows"] == first["n_windows"]
    print(f"first build {first_s:.1f} s, unchanged rebuild {second_s:.1f} s")
    assert second_s < first_s / 3
