"""Fusion against hand-computed rankings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.config import RetrievalConfig
from retrieval.fusion import (
    RRF_K,
    Ranked,
    distribution_based,
    min_max,
    reciprocal_rank_fusion,
    theoretical_min_max,
    weighted_fusion,
)
from retrieval.index import LoadedIndex
from retrieval.searcher import HybridSearcher, _ranks


def ranked(
    ids: list[int],
    scores: list[float] | None = None,
    floor: float | None = None,
    exact: dict[int, float] | None = None,
) -> Ranked:
    scores = scores if scores is not None else [float(len(ids) - i) for i in range(len(ids))]
    lookup = None
    if exact is not None:
        table = exact

        def lookup(i: np.ndarray) -> np.ndarray:
            return np.array([table[int(x)] for x in i], dtype=np.float64)

    return Ranked(
        np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64), floor, lookup
    )


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
    np.testing.assert_allclose(
        min_max(ranked([1, 2, 3], [12.0, 7.0, 2.0]))(np.array([12.0, 7.0, 2.0])), [1.0, 0.5, 0.0]
    )
    # All equal -> 1: every candidate is as good as that retriever's best.
    np.testing.assert_allclose(
        min_max(ranked([1, 2], [0.3, 0.3]))(np.array([0.3, 0.3])), [1.0, 1.0]
    )
    # Below the list's minimum (an exact score of a candidate the list missed) clips to 0.
    assert min_max(ranked([1, 2], [12.0, 2.0]))(np.array([1.0])).tolist() == [0.0]


def test_theoretical_min_max_uses_the_retrievers_floor() -> None:
    bm25 = theoretical_min_max(ranked([1, 2, 3], [12.0, 7.0, 2.0], floor=0.0))
    np.testing.assert_allclose(bm25(np.array([12.0, 7.0, 2.0, 0.0])), [1.0, 7 / 12, 2 / 12, 0.0])
    cosine = theoretical_min_max(ranked([3, 4, 1], [0.9, 0.7, 0.4], floor=-1.0))
    np.testing.assert_allclose(
        cosine(np.array([0.9, 0.7, 0.4, -1.0])), [1.0, 1.7 / 1.9, 1.4 / 1.9, 0.0]
    )
    # Deeper or shallower lists do not move it: only the top score and the floor count.
    shallow = theoretical_min_max(ranked([3], [0.9], floor=-1.0))
    assert shallow(np.array([0.4]))[0] == pytest.approx(1.4 / 1.9)


def test_theoretical_floor_never_sits_above_a_real_score() -> None:
    # rank_bm25's idf floor goes negative in a tiny corpus; the list's minimum takes over.
    scale = theoretical_min_max(ranked([1, 2], [-1.0, -3.0], floor=0.0))
    np.testing.assert_allclose(scale(np.array([-1.0, -3.0])), [1.0, 0.0])
    with pytest.raises(ValueError, match="floor"):
        theoretical_min_max(ranked([1], [1.0]))


def test_distribution_based_uses_mean_plus_minus_three_std() -> None:
    scale = distribution_based(ranked([1, 2, 3], [6.0, 4.0, 2.0]))
    sigma = math.sqrt(8 / 3)  # population std of 2, 4, 6 around mean 4
    expected = [0.5 + 2 / (6 * sigma), 0.5, 0.5 - 2 / (6 * sigma)]
    np.testing.assert_allclose(scale(np.array([6.0, 4.0, 2.0])), expected)
    # Above mean + 3 std stays above 1 (strong hits keep their lead); below mean - 3 std -> 0.
    assert scale(np.array([4 + 4 * sigma]))[0] == pytest.approx(0.5 + 4 / 6)
    assert scale(np.array([4 - 4 * sigma]))[0] == 0.0
    np.testing.assert_allclose(distribution_based(ranked([7], [0.2]))(np.array([0.2])), [1.0])


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


def test_weighted_fusion_theoretical_with_floor_and_exact_missing_scores() -> None:
    # BM25 (floor 0) normalized 1, 7/12, 2/12; cosine (floor -1) normalized 1, 1.7/1.9, 1.4/1.9.
    # Id 2 is missing from the dense list (exact cosine 0.1), id 4 from BM25 (exact 1.0).
    bm25 = ranked([1, 2, 3], [12.0, 7.0, 2.0], floor=0.0, exact={4: 1.0})
    dense = ranked([3, 4, 1], [0.9, 0.7, 0.4], floor=-1.0, exact={2: 0.1})
    floor = {1: 0.5 + 0.5 * 1.4 / 1.9, 2: 0.5 * 7 / 12, 3: 0.5 * 2 / 12 + 0.5, 4: 0.5 * 1.7 / 1.9}
    exact = {**floor, 2: floor[2] + 0.5 * 1.1 / 1.9, 4: floor[4] + 0.5 * 1.0 / 12}
    for missing, expected in (("floor", floor), ("exact", exact)):
        ids, scores = weighted_fusion(
            [bm25, dense], [0.5, 0.5], normalization="theoretical", missing=missing
        )
        order = sorted(expected, key=lambda i: -expected[i])
        assert ids.tolist() == order
        np.testing.assert_allclose(scores, [expected[i] for i in order], atol=1e-12)
    # The exact score moved id 2 (a strong BM25 hit with a middling cosine) above id 4.
    assert order == [1, 3, 2, 4]


def test_weighted_fusion_dbsf_floor_is_zero_for_missing_candidates() -> None:
    sigma = math.sqrt(8 / 3)
    ids, scores = weighted_fusion(
        [ranked([1, 2, 3], [6.0, 4.0, 2.0]), ranked([9], [0.5])], [0.5, 0.5], normalization="dbsf"
    )
    # Id 9 is alone in its list (-> 1); ids 1-3 get nothing from that list.
    assert ids.tolist() == [9, 1, 2, 3]
    np.testing.assert_allclose(
        scores, [0.5, 0.5 * (0.5 + 2 / (6 * sigma)), 0.25, 0.5 * (0.5 - 2 / (6 * sigma))]
    )


def test_weighted_fusion_rejects_bad_options() -> None:
    lists = [ranked([1, 2], [2.0, 1.0]), ranked([2, 3], [0.5, 0.4])]
    with pytest.raises(ValueError, match="exact"):
        weighted_fusion(lists, [0.5, 0.5], missing="exact")
    with pytest.raises(ValueError, match="normalization"):
        weighted_fusion(lists, [0.5, 0.5], normalization="z")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing"):
        weighted_fusion(lists, [0.5, 0.5], missing="zero")  # type: ignore[arg-type]


def test_empty_lists() -> None:
    empty = ranked([])
    assert reciprocal_rank_fusion([empty, empty])[0].size == 0
    ids, scores = weighted_fusion([empty, ranked([7], [0.4])], [0.5, 0.5])
    assert ids.tolist() == [7] and scores.tolist() == [0.5]
    ids, scores = weighted_fusion(
        [empty, ranked([7], [0.4], floor=-1.0)], [0.5, 0.5], normalization="theoretical"
    )
    assert ids.tolist() == [7] and scores.tolist() == [0.5]


def test_config_offers_the_fusion_normalizations() -> None:
    config = RetrievalConfig(normalization="theoretical", missing_score="exact", alpha=0.8)
    assert (config.normalization, config.missing_score) == ("theoretical", "exact")
    with pytest.raises(ValueError):
        RetrievalConfig(normalization="z_score")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RetrievalConfig(missing_score="zero")  # type: ignore[arg-type]


def test_searcher_wires_floors_and_exact_scores(
    corpus_index: LoadedIndex, corpus_searcher: HybridSearcher
) -> None:
    """Every hybrid hit's fused score is the hand formula applied to the exact BM25 score
    and cosine the hit reports, with BM25 floor 0 and cosine floor -1."""
    alpha = 0.8
    # Shallow lists, so that some of the 30 hits come from one retriever only.
    config = corpus_searcher.config.model_copy(
        update={
            "normalization": "theoretical",
            "missing_score": "exact",
            "alpha": alpha,
            "depth": 30,
        }
    )
    searcher = HybridSearcher(corpus_index, corpus_searcher.embedder, config)
    query = "which KPIs measure model quality in production"
    vector = searcher.embed_query(query)
    best_bm25 = searcher.search(query, k=1, mode="bm25")[0].score
    best_cosine = searcher.search(query, k=1, mode="dense", query_vector=vector)[0].score
    hits = searcher.search(query, k=30, query_vector=vector)
    assert len(hits) == 30
    assert any(h.bm25_rank is None for h in hits) and any(h.dense_rank is None for h in hits)
    for hit in hits:
        assert hit.bm25_score is not None and hit.dense_score is not None
        expected = (1 - alpha) * hit.bm25_score / best_bm25 + alpha * (hit.dense_score + 1) / (
            best_cosine + 1
        )
        assert hit.score == pytest.approx(expected, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_ranked_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        Ranked(np.array([1, 2]), np.array([1.0]))


def test_hit_ranks_are_positions_in_each_candidate_list() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        ranked = rng.permutation(500)[: rng.integers(0, 300)].astype(np.int64)
        ids = rng.integers(0, 500, size=rng.integers(0, 20)).astype(np.int64)
        reference = {int(i): r for r, i in enumerate(ranked, start=1)}
        assert _ranks(ranked, ids) == [reference.get(int(i)) for i in ids]
