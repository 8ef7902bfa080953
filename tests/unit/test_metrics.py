"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interest_tools.forecast import catalog_coverage, per_user_metrics, ranking_metrics, top_k


def test_single_target_by_hand() -> None:
    # Target at rank 3 (scores 9 > 8 > 7 = target).
    scores = np.array([[9.0, 8.0, 7.0, 1.0, 0.0]])
    m = ranking_metrics(scores, [np.array([2])])
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert m["hit@10"] == 1.0
    assert m["recall@20"] == 1.0
    assert m["mrr@10"] == pytest.approx(1 / 3)


def test_target_outside_top_ten() -> None:
    scores = -np.arange(30, dtype=float)[None, :]  # item i at rank i + 1
    m = ranking_metrics(scores, [np.array([12])])  # rank 13: in the top 20, not the top 10
    assert m == {"ndcg@10": 0.0, "hit@10": 0.0, "recall@20": 1.0, "mrr@10": 0.0}
    m = ranking_metrics(scores, [np.array([25])])
    assert m["recall@20"] == 0.0


def test_several_targets_and_users() -> None:
    scores = -np.arange(30, dtype=float)[None, :].repeat(2, axis=0)
    targets = [np.array([0, 4, 25]), np.array([9])]
    m0 = per_user_metrics(top_k(scores, 20), targets)
    dcg = 1 / math.log2(2) + 1 / math.log2(6)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert m0["ndcg@10"][0] == pytest.approx(dcg / idcg)
    assert m0["recall@20"][0] == pytest.approx(2 / 3)
    assert m0["mrr@10"][0] == 1.0
    assert m0["ndcg@10"][1] == pytest.approx(1 / math.log2(11))
    assert m0["mrr@10"][1] == pytest.approx(0.1)
    mean = ranking_metrics(scores, targets)
    assert mean["hit@10"] == 1.0
    assert mean["mrr@10"] == pytest.approx((1.0 + 0.1) / 2)


def test_ties_break_by_catalog_order_and_masked_items_rank_last() -> None:
    scores = np.array([[1.0, 5.0, 5.0, 5.0, -np.inf, np.nan]])
    assert top_k(scores, 4).tolist() == [[1, 2, 3, 0]]
    assert top_k(scores, 6).tolist() == [[1, 2, 3, 0, 4, 5]]
    assert ranking_metrics(scores, [np.array([3])])["mrr@10"] == pytest.approx(1 / 3)


def test_top_k_matches_full_sort() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(20, 50)).astype(float)  # many ties
    full = np.lexsort((np.broadcast_to(np.arange(50), scores.shape), -scores), axis=1)
    np.testing.assert_array_equal(top_k(scores, 10), full[:, :10])


def test_coverage_and_empty() -> None:
    ranked = np.array([[0, 1, 2], [0, 3, 4]])
    assert catalog_coverage(ranked, 10, k=2) == pytest.approx(3 / 10)
    assert catalog_coverage(ranked, 10, k=3) == pytest.approx(5 / 10)
    assert ranking_metrics(np.zeros((0, 5)), []) == {"ndcg@10": 0.0, "hit@10": 0.0, "recall@20": 0.0, "mrr@10": 0.0}
