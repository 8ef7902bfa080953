"""Promise 3: a build or ingest killed (SIGKILL) at any point resumes to exactly what a clean run stores.

Children are forked from a zygote (crash_child.py) with a persistent Chroma store in tmp_path, fake embeddings
and small write batches (8 records), so there are dozens of write points. Three kills land on a write point
drawn from a seeded RNG (just before or after a Chroma write or a state-file rename), one at a random time.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from interest_tools.data import Dataset
from interest_tools.engine import Engine
from interest_tools.settings import Settings
from interest_tools.store import InterestStore, StoreConfig
from interest_tools.store import _state as state
from tests.harness.stores import NO_FORECAST, Zygote, assert_same_store, clone_store, fixture_dataset, persistent_engine
from tests.reliability.crash_child import write_points

BATCH = 8


@pytest.fixture(scope="module")
def crash_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six users (the fixture's three and copies), written as the files a child loads; plus new events."""
    folder = tmp_path_factory.mktemp("crash_data")
    data = fixture_dataset(extra_users=1)
    data.events.to_parquet(folder / "events.parquet")
    data.items.to_parquet(folder / "items.parquet")
    new = pd.DataFrame(
        {
            "user_id": ["u2", "u2", "u9", "u9", "u1x0"],
            "item_id": ["i11", "i10", "i00", "i07", "i05"],
            "timestamp": pd.to_datetime(
                ["2021-01-05", "2021-01-09", "2021-02-01", "2021-03-01", "2021-01-20"], utc=True
            ),
            "rating": [5.0, 4.0, 3.0, 4.5, 2.0],
        }
    )
    new.to_parquet(folder / "new.parquet")
    return folder


def _dataset(folder: Path) -> Dataset:
    from interest_tools.data import load_dataset

    return load_dataset(folder / "events.parquet", folder / "items.parquet", name="fixture")


def _small_batch_engine(root: Path) -> Engine:
    from tests.harness.stores import fake_embeddings

    emb = fake_embeddings()
    settings = Settings(store_path=root)
    return Engine(settings, embeddings=emb, store=InterestStore.open(emb, settings, StoreConfig(max_batch_size=BATCH)))


@pytest.fixture(scope="module")
def clean_build(tmp_path_factory: pytest.TempPathFactory, crash_data: Path) -> tuple[Engine, int]:
    """An uninterrupted build (the reference), and how many write points it has."""
    engine = _small_batch_engine(tmp_path_factory.mktemp("clean_build") / "store")
    with write_points() as counter:
        engine.build(_dataset(crash_data), NO_FORECAST)
    engine.store.close()
    return persistent_engine(engine.root), counter[0]


@pytest.fixture(scope="module")
def clean_ingest(
    tmp_path_factory: pytest.TempPathFactory, crash_data: Path, clean_build: tuple[Engine, int]
) -> tuple[Engine, int]:
    """The reference build followed by an uninterrupted ingest, and the ingest's write points."""
    root = clone_store(clean_build[0].root, tmp_path_factory.mktemp("clean_ingest") / "store")
    engine = _small_batch_engine(root)
    with write_points() as counter:
        engine.ingest(pd.read_parquet(crash_data / "new.parquet"))
    engine.store.close()
    return persistent_engine(root), counter[0]


def _assert_resumed_equals(engine: Engine, reference: Engine) -> None:
    assert_same_store(engine, reference)
    assert state.pending_write(engine.root) is None
    assert not [p for p in engine.root.rglob("*.tmp")], "a killed writer's temp files were not cleaned up"
    assert engine.health_check(deep=False)["ok"]


def _kill_at(zygote: Zygote, job: dict[str, object]) -> dict[str, object]:
    pid = zygote.start(job)
    result = zygote.result(pid)
    assert result["status"] == "killed" and result["signal"] == signal.SIGKILL, result
    return result


@pytest.mark.parametrize(("seed", "part"), [(11, (0.0, 0.6)), (12, (0.6, 1.0))], ids=["chroma-phase", "files-phase"])
def test_build_killed_at_a_write_point_resumes_to_a_clean_build(
    seed: int, part: tuple[float, float], zygote: Zygote, crash_data: Path, clean_build: tuple[Engine, int],
    tmp_path: Path,
) -> None:  # fmt: skip
    reference, n_points = clean_build
    assert n_points > 20  # enough write points for the kill to land anywhere
    kill_at = random.Random(seed).randint(max(1, int(part[0] * n_points)), int(part[1] * n_points))
    print(f"build killed at write point {kill_at} of {n_points}")
    store = tmp_path / "store"
    _kill_at(zygote, {"op": "build", "store": str(store), "data": str(crash_data), "kill_at": kill_at, "batch": BATCH})
    assert state.pending_write(store) is not None or not (store / state.STATE).exists()  # it was cut short
    resumed = persistent_engine(store)
    resumed.build(_dataset(crash_data), NO_FORECAST)
    _assert_resumed_equals(resumed, reference)


def test_ingest_killed_at_a_write_point_resumes_to_a_clean_ingest(
    zygote: Zygote, crash_data: Path, clean_build: tuple[Engine, int], clean_ingest: tuple[Engine, int], tmp_path: Path
) -> None:
    reference, n_points = clean_ingest
    assert n_points > 8
    kill_at = random.Random(13).randint(1, n_points)
    store = clone_store(clean_build[0].root, tmp_path / "store")
    new = str(crash_data / "new.parquet")
    _kill_at(zygote, {"op": "ingest", "store": str(store), "new": new, "kill_at": kill_at, "batch": BATCH})
    assert kill_at == 1 or state.pending_write(store) is not None  # it was cut short
    print(f"ingest killed at write point {kill_at} of {n_points}")
    resumed = persistent_engine(store)
    report = resumed.ingest(pd.read_parquet(new))
    assert report.n_events == reference.build_state.n_events
    _assert_resumed_equals(resumed, reference)
    again = resumed.ingest(pd.read_parquet(new))  # and once finished, the same ingest is a no-op
    assert (again.users_touched, again.windows_embedded) == (0, 0)


def test_build_killed_at_a_random_time_resumes_to_a_clean_build(
    zygote: Zygote, crash_data: Path, clean_build: tuple[Engine, int], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    pid = zygote.start({"op": "build", "store": str(store), "data": str(crash_data), "batch": BATCH})
    zygote.wait_for(lambda m: m.get("event") == "go" and m.get("pid") == pid)
    time.sleep(random.Random(14).uniform(0.0, 0.8))
    os.kill(pid, signal.SIGKILL)
    result = zygote.result(pid)
    print(f"random-time kill: {result}")  # "exited" when the build beat the timer: then it must be complete
    resumed = persistent_engine(store)
    resumed.build(_dataset(crash_data), NO_FORECAST)
    _assert_resumed_equals(resumed, clean_build[0])


def test_a_write_reported_done_survives_sigkill(
    zygote: Zygote, crash_data: Path, clean_build: tuple[Engine, int], clean_ingest: tuple[Engine, int], tmp_path: Path
) -> None:
    store = clone_store(clean_build[0].root, tmp_path / "store")
    job = {"op": "done_then_die", "store": str(store), "new": str(crash_data / "new.parquet"), "user": "u1",
           "category": "Comedy", "batch": BATCH}  # fmt: skip
    pid = zygote.start(job)
    zygote.wait_for(lambda m: m.get("event") == "done" and m.get("pid") == pid)
    assert zygote.result(pid)["status"] == "killed"
    after = persistent_engine(store)
    assert_same_store(after, clean_ingest[0])  # the ingest that returned is all there
    assert after.preferences("u1").excluded_categories == ["Comedy"]  # and so is the feedback
    assert state.pending_write(store) is None
