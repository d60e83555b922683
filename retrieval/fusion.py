"""Fusing ranked lists from several retrievers into one.

Both fusions take one ranked candidate list per retriever (ids best first,
with that retriever's scores) and return fused (ids, scores), best first. Ties
are broken by the id's best rank in any list, then by id, so results are
deterministic.

Weighted fusion first maps each list's raw scores onto a common scale with one
of the ``NORMALIZATIONS`` (each an affine map fitted to that list), then sums
weight * normalized score. A candidate that only the other retriever returned
gets either the list's floor (``missing="floor"``) or its exact score from that
retriever, normalized the same way (``missing="exact"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

# Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and
# individual Rank Learning Methods", SIGIR 2009: k = 60 was fixed in that paper
# on pilot data and worked across TREC collections; it damps the weight of the
# very top ranks so one retriever's first hit cannot dominate.
RRF_K = 60

Normalization = Literal["min_max", "theoretical", "dbsf"]
MissingScore = Literal["floor", "exact"]

# A spread below this counts as "all scores equal".
_EPS = 1e-12


@dataclass(frozen=True)
class Ranked:
    """One retriever's candidates: ids best first, with its raw scores.

    ``floor`` is the lowest score the retriever can give at all (BM25: 0, cosine:
    -1), needed by the "theoretical" normalization. ``exact`` returns the
    retriever's score for any ids, needed by ``missing="exact"``.
    """

    ids: np.ndarray
    scores: np.ndarray
    floor: float | None = None
    exact: Callable[[np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.scores):
            raise ValueError("ids and scores must have the same length")


@dataclass(frozen=True)
class Scale:
    """normalized = max(0, (raw - low) / span). 0 is also what a candidate missing
    from the list gets with ``missing="floor"``; clipping there keeps every fused
    score >= 0, so a ``min_score`` of 0 never drops a candidate."""

    low: float
    span: float

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return np.maximum((np.asarray(raw, dtype=np.float64) - self.low) / self.span, 0.0)


def _scale(low: float, high: float) -> Scale:
    # Degenerate list (all scores equal, or none above the floor): every candidate
    # is as good as that retriever's best, so all map to 1 and the floor stays 0.
    if high - low <= _EPS:
        return Scale(low=high - 1.0, span=1.0)
    return Scale(low=low, span=high - low)


def min_max(ranked: Ranked) -> Scale:
    """The list's own lowest score -> 0, highest -> 1."""
    scores = np.asarray(ranked.scores, dtype=np.float64)
    return _scale(float(scores.min()), float(scores.max()))


def theoretical_min_max(ranked: Ranked) -> Scale:
    """The retriever's theoretical minimum -> 0, the list's best -> 1 ("theoretical
    min-max", Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
    Retrieval", ACM TOIS 2023). Unlike min-max it does not depend on how deep the
    list goes, only on its top score."""
    if ranked.floor is None:
        raise ValueError("theoretical normalization needs Ranked.floor")
    scores = np.asarray(ranked.scores, dtype=np.float64)
    # rank_bm25's epsilon idf floor can turn negative in a tiny corpus: never let the
    # "floor" sit above a score the retriever actually gave.
    return _scale(min(ranked.floor, float(scores.min())), float(scores.max()))


def distribution_based(ranked: Ranked) -> Scale:
    """Mean - 3 std -> 0, mean + 3 std -> 1 (Mazzeschi's distribution-based score
    fusion, 2023). Only the low end is clipped: clipping strong BM25 hits at
    mean + 3 std would erase exactly the evidence fusion should keep."""
    scores = np.asarray(ranked.scores, dtype=np.float64)
    mean, std = float(scores.mean()), float(scores.std())
    if std <= _EPS:
        return _scale(mean, mean)
    return _scale(mean - 3.0 * std, mean + 3.0 * std)


NORMALIZATIONS: dict[str, Callable[[Ranked], Scale]] = {
    "min_max": min_max,
    "theoretical": theoretical_min_max,
    "dbsf": distribution_based,
}


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


def weighted_fusion(
    lists: Sequence[Ranked],
    weights: Sequence[float],
    *,
    normalization: Normalization = "min_max",
    missing: MissingScore = "floor",
) -> tuple[np.ndarray, np.ndarray]:
    """score(d) = sum over lists of weight * normalized score of d in that list.

    Raw scores are not comparable (BM25 is unbounded, cosine lies in [-1, 1]), so
    each list is normalized on its own, per query. An empty list adds nothing.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}")
    if missing not in get_args(MissingScore):
        raise ValueError(f"missing must be one of {', '.join(get_args(MissingScore))}")
    ids, best = _union(lists)
    scores = np.zeros(ids.shape, dtype=np.float64)
    for ranked, weight in zip(lists, weights, strict=True):
        if not len(ranked.ids):
            continue
        scale = NORMALIZATIONS[normalization](ranked)
        values = np.zeros(ids.shape, dtype=np.float64)  # the floor
        if missing == "exact":
            if ranked.exact is None:
                raise ValueError('missing="exact" needs Ranked.exact')
            absent = ~np.isin(ids, ranked.ids)
            if absent.any():
                values[absent] = scale(ranked.exact(ids[absent]))
        values[np.searchsorted(ids, ranked.ids)] = scale(ranked.scores)
        scores += weight * values
    return _order(ids, scores, best)
