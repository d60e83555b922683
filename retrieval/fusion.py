"""Fusing ranked lists from several retrievers into one.

Both functions take one ranked candidate list per retriever (ids best first,
with that retriever's scores) and return fused (ids, scores), best first. Ties
are broken by the id's best rank in any list, then by id, so results are
deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and
# individual Rank Learning Methods", SIGIR 2009: k = 60 was fixed in that paper
# on pilot data and worked across TREC collections; it damps the weight of the
# very top ranks so one retriever's first hit cannot dominate.
RRF_K = 60


@dataclass(frozen=True)
class Ranked:
    """One retriever's candidates: ids best first, with its raw scores."""

    ids: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.scores):
            raise ValueError("ids and scores must have the same length")


def _union(lists: Sequence[Ranked]) -> tuple[np.ndarray, np.ndarray]:
    """Union of the ids and, per id, its best (lowest) 1-based rank in any list."""
    non_empty = [r.ids for r in lists if len(r.ids)]
    if not non_empty:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    ids = np.unique(np.concatenate(non_empty))
    best = np.full(ids.shape, np.iinfo(np.int64).max, dtype=np.int64)
    for ranked in lists:
        if len(ranked.ids):
            pos = np.searchsorted(ids, ranked.ids)
            best[pos] = np.minimum(best[pos], np.arange(1, len(ranked.ids) + 1))
    return ids, best


def _order(ids: np.ndarray, scores: np.ndarray, best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, best, -scores))
    return ids[order], scores[order]


def reciprocal_rank_fusion(
    lists: Sequence[Ranked], k: int = RRF_K, weights: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """score(d) = sum over lists containing d of weight / (k + rank(d)), rank from 1."""
    if k < 0:
        raise ValueError("k must be non-negative")
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    ids, best = _union(lists)
    scores = np.zeros(ids.shape, dtype=np.float64)
    for ranked, weight in zip(lists, weights, strict=True):
        if len(ranked.ids):
            pos = np.searchsorted(ids, ranked.ids)
            scores[pos] += weight / (k + np.arange(1, len(ranked.ids) + 1))
    return _order(ids, scores, best)


def min_max(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] within one list. A list whose scores are all equal maps to 1:
    every candidate is as good as that retriever's best."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    low, high = scores.min(), scores.max()
    if high - low <= 1e-12:
        return np.ones_like(scores)
    return (scores - low) / (high - low)


def weighted_fusion(
    lists: Sequence[Ranked], weights: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """score(d) = sum of weight * min-max-normalized score; 0 from a list without d.

    Min-max makes BM25 (unbounded) and cosine (in [-1, 1]) comparable per query; a
    document a retriever did not return gets that retriever's floor, 0.
    """
    ids, best = _union(lists)
    scores = np.zeros(ids.shape, dtype=np.float64)
    for ranked, weight in zip(lists, weights, strict=True):
        if len(ranked.ids):
            pos = np.searchsorted(ids, ranked.ids)
            scores[pos] += weight * min_max(ranked.scores)
    return _order(ids, scores, best)
