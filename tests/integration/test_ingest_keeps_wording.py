"""Issue 15, item 3 on a demo-built store: the bundled MovieLens data built as ``interest-tools demo`` builds it
(noun "movies"; fake embeddings and no forecaster here), then one event ingested for user 414 re-embeds only the
window whose text changed (it was 124, every window of the user) and the summaries keep saying "movies"."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from interest_tools.datasets import load_named
from interest_tools.pipeline import BuildConfig
from tests.harness.stores import memory_engine

pytestmark = pytest.mark.integration

#: What `interest-tools demo` builds, less the forecaster.
DEMO = BuildConfig.model_validate({"summary": {"noun": "movies"}, "train_forecaster": False})


def test_first_ingest_into_a_demo_store_rewrites_one_window(tmp_path: Path) -> None:
    engine = memory_engine(tmp_path / "store")
    engine.build(load_named("movielens-small"), DEMO)
    before = {s.index: s.summary for s in engine.user_summaries("414")}
    mine = engine.dataset.events[engine.dataset.events["user_id"] == "414"]
    unseen = next(i for i in engine.dataset.items["item_id"] if i not in set(mine["item_id"]))
    when = mine["timestamp"].max().isoformat()  # inside the user's last window
    report = engine.ingest(
        pd.DataFrame({"user_id": ["414"], "item_id": [unseen], "timestamp": [when], "rating": [4.0]})
    )
    after = {s.index: s.summary for s in engine.user_summaries("414")}
    changed = [i for i, text in after.items() if before.get(i) != text]
    assert len(before) == len(after) == 124
    assert report.windows_embedded == len(changed) == 1 and changed == [max(after)]
    assert all(" items" not in text for text in after.values())
    many = [text for text in after.values() if " you rated 1 movie" not in text]
    assert many and all(" movies" in text for text in many)
    other = engine.user_summaries("1")[0].summary
    assert " movies" in other  # user 1 (not touched) and user 414 read alike
