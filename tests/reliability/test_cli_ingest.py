"""Promise 0: ``interest-tools ingest --events F [--items F] --store P`` appends to a built store and updates only
what the new events touch; on bad input it exits 2 with the file, row and column on stderr and no traceback.

Both runs are real subprocesses. The bad-input run is the unmodified console entry point (validation happens
before any model or store is opened). The good run swaps the embedding model for the fake one the store was
built with (the only change), since the real model is not part of this suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.harness.stores import REPO, persistent_engine, snapshot

_FAKE_CLI = """
import sys
from langchain_core.embeddings import DeterministicFakeEmbedding
import interest_tools.adapters.cli._common as cli
from interest_tools.engine import Engine
cli.engine_from = lambda store, url: Engine(cli.settings_from(store, url), embeddings=DeterministicFakeEmbedding(size=16))
sys.argv = ["interest-tools", *sys.argv[1:]]
from interest_tools.adapters.cli import main
main()
"""


def _run(args: list[str], *, fake: bool) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", _FAKE_CLI] if fake else [sys.executable, "-m", "interest_tools"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "COLUMNS": "200"}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


def test_cli_ingest_appends_and_updates_only_touched_users(tiny_store: Path, tmp_path: Path) -> None:
    engine = persistent_engine(tiny_store)
    before = snapshot(engine)
    engine.store.close()
    events = tmp_path / "new.csv"
    pd.DataFrame(
        {"user_id": ["u2", "u2"], "item_id": ["i11", "new-item"], "timestamp": ["2021-01-05", "2021-01-07"],
         "rating": ["5", "4"]}
    ).to_csv(events, index=False)  # fmt: skip
    items = tmp_path / "items.csv"
    pd.DataFrame({"item_id": ["new-item"], "title": ["A Brand New Film"], "categories": ["Comedy|Drama"]}).to_csv(
        items, index=False
    )
    result = _run(
        ["ingest", "--events", str(events), "--items", str(items), "--store", str(tiny_store), "--json"], fake=True
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["users_touched"], report["windows_embedded"], report["items_embedded"]) == (1, 1, 1)
    assert (report["n_events"], report["n_items"]) == (110, 13)

    after = persistent_engine(tiny_store)
    assert after.titles["new-item"] == "A Brand New Film"
    assert after.user_windows("u2")[-1].item_ids == ["i11", "new-item"]
    snap = snapshot(after)
    for user in ("u1", "u3"):  # untouched users: same window records, same vectors
        ids = [i for i in before["ids"]["windows"] if i.startswith(f"window:{user}:")]
        assert [i for i in snap["ids"]["windows"] if i.startswith(f"window:{user}:")] == ids
    keep = [k for k, i in enumerate(before["ids"]["windows"]) if not i.startswith("window:u2:")]
    now = {i: d for i, d in zip(snap["ids"]["windows"], snap["documents"]["windows"], strict=True)}
    assert all(now[before["ids"]["windows"][k]] == before["documents"]["windows"][k] for k in keep)


def test_cli_ingest_bad_input_exits_2_with_file_row_and_column(tiny_store: Path, tmp_path: Path) -> None:
    engine = persistent_engine(tiny_store)
    before = snapshot(engine)
    engine.store.close()
    events = tmp_path / "bad events.csv"
    events.write_text(
        "user_id,item_id,timestamp,rating\nu2,i11,2021-01-05,5\nu2,i10,2021-01-06,4\nu2,i09,2021-01-07,lots\n"
    )
    result = _run(["ingest", "--events", str(events), "--store", str(tiny_store)], fake=False)
    assert result.returncode == 2
    assert f"{events}, row 3, column 'rating': rating 'lots' is not a finite number" in result.stderr
    assert "Fix:" in result.stderr and "Traceback" not in result.stderr and result.stdout == ""
    assert snapshot(persistent_engine(tiny_store)) == before
