"""Fusion against hand-computed rankings."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.fusion import RRF_K, Ranked, min_max, reciprocal_rank_fusion, weighted_fusion


def ranked(ids: list[int], scores: list[float] | None = None) -> Ranked:
    scores = scores if scores is not None else [float(len(ids) - i) for i in range(len(ids))]
    return Ranked(np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64))


def test_rrf_matches_hand_computation() -> None:
    bm25 = ranked([10, 20, 30])
    dense = ranked([30, 40, 10])
    ids, scores = reciprocal_rank_fusion([bm25, dense], k=60)
    expected = {
        10: 1 / 61 + 1 / 63,
        20: 1 / 62,
        30: 1 / 63 + 1 / 61,
        40: 1 / 62,
    }
    # 10 and 30 tie on score and both have a rank 1 somewhere: the lower id wins.
    # 20 and 40 tie too (rank 2 each): lower id first.
    assert ids.tolist() == [10, 30, 20, 40]
    np.testing.assert_allclose(scores, [expected[i] for i in ids.tolist()], rtol=0, atol=1e-15)


def test_rrf_with_small_k_and_disjoint_lists() -> None:
    ids, scores = reciprocal_rank_fusion([ranked([1, 2]), ranked([3])], k=1)
    assert ids.tolist() == [1, 3, 2]
    np.testing.assert_allclose(scores, [1 / 2, 1 / 2, 1 / 3])


def test_rrf_default_k_is_the_papers() -> None:
    assert RRF_K == 60
    _, scores = reciprocal_rank_fusion([ranked([5])])
    assert scores.tolist() == [1 / 61]


def test_min_max_normalization() -> None:
    np.testing.assert_allclose(min_max(np.array([12.0, 7.0, 2.0])), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(min_max(np.array([0.3, 0.3])), [1.0, 1.0])  # all equal -> 1
    assert min_max(np.array([])).size == 0


def test_weighted_fusion_matches_hand_computation() -> None:
    bm25 = ranked([1, 2, 3], [12.0, 7.0, 2.0])  # normalized 1.0, 0.5, 0.0
    dense = ranked([3, 4, 1], [0.9, 0.7, 0.4])  # normalized 1.0, 0.6, 0.0
    alpha = 0.3  # dense weight
    ids, scores = weighted_fusion([bm25, dense], weights=[1 - alpha, alpha])
    expected = {
        1: 0.7 * 1.0 + 0.3 * 0.0,
        2: 0.7 * 0.5,
        3: 0.7 * 0.0 + 0.3 * 1.0,
        4: 0.3 * 0.6,
    }
    order = sorted(expected, key=lambda i: -expected[i])
    assert ids.tolist() == order == [1, 2, 3, 4]
    np.testing.assert_allclose(scores, [expected[i] for i in order], atol=1e-12)


def test_weighted_fusion_extremes_reproduce_single_retrievers() -> None:
    bm25 = ranked([1, 2, 3], [9.0, 5.0, 1.0])
    dense = ranked([3, 2, 1], [0.8, 0.5, 0.2])
    assert weighted_fusion([bm25, dense], [1.0, 0.0])[0][:3].tolist() == [1, 2, 3]
    assert weighted_fusion([bm25, dense], [0.0, 1.0])[0][:3].tolist() == [3, 2, 1]


def test_empty_lists() -> None:
    empty = ranked([])
    assert reciprocal_rank_fusion([empty, empty])[0].size == 0
    ids, scores = weighted_fusion([empty, ranked([7], [0.4])], [0.5, 0.5])
    assert ids.tolist() == [7] and scores.tolist() == [0.5]


def test_ranked_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        Ranked(np.array([1, 2]), np.array([1.0]))
