from __future__ import annotations

import numpy as np
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.store import InterestStore, ItemVectorMirror
from tests.harness.data import make_items


def test_mirror_answers_like_the_store():
    emb = DeterministicFakeEmbedding(size=16)
    items = make_items()
    store = InterestStore.in_memory(emb)
    store.upsert_items(items)
    mirror = ItemVectorMirror.from_store(store, items)
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.normal(size=16)
        q = (q / np.linalg.norm(q)).tolist()
        for kwargs in (
            {},
            {"exclude_ids": ["i00", "i04"]},
            {"categories_any": ["Horror", "Comedy"]},
            {"categories_none": ["Drama"]},
        ):
            want = store.query_items(vector=q, k=5, **kwargs)
            got = mirror.query_items(vector=q, k=5, **kwargs)
            assert [h.item_id for h in got] == [h.item_id for h in want]
            assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-4)
    ids = ["i03", "nope", "i01"]
    vecs = mirror.get_item_vectors(ids)
    assert np.allclose(vecs[[0, 2]], store.get_item_vectors(["i03", "i01"]), atol=1e-6)
    assert np.isnan(vecs[1]).all()
