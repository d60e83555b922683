"""Hybrid search: BM25 and dense candidates, filtered first, then fused.

One call does: validate, build the filter mask, BM25 top-``bm25_depth`` over
allowed chunks, dense top-``dense_depth`` over allowed chunks (embedding the
query unless a vector is supplied), fuse, cut to ``k``. All of it is numpy,
scipy and faiss work on in-memory arrays, so it is safe and cheap to call from a
thread pool; the index is never mutated after loading.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, get_args

import numpy as np

from retrieval.chunking import Chunk
from retrieval.config import RetrievalConfig
from retrieval.embedding.base import Embedder
from retrieval.errors import QueryError
from retrieval.filters import SearchFilters
from retrieval.fusion import Ranked, reciprocal_rank_fusion, weighted_fusion
from retrieval.index.store import LoadedIndex

Mode = Literal["hybrid", "bm25", "dense"]
FusionMethod = Literal["rrf", "weighted"]

# Lowest scores the two retrievers can give, for theoretical min-max fusion: Okapi BM25
# with rank_bm25's idf floor is >= 0 (bar a tiny corpus whose mean idf is negative,
# which fusion.theoretical_min_max copes with); cosine is >= -1.
BM25_FLOOR = 0.0
COSINE_FLOOR = -1.0

MAX_QUERY_CHARS = 10_000
MAX_K = 1000

# Told each sub-step of one search as it ends: (name, start, end), times from
# time.time_ns() (the clock tracing uses). Names: "bm25", "embed" (query vector:
# computed, or only checked when supplied), "dense", "fusion" (fuse, cut, build hits).
StepObserver = Callable[[str, int, int], None]


@contextmanager
def _timed(observer: StepObserver | None, name: str) -> Iterator[None]:
    if observer is None:
        yield
        return
    start = time.time_ns()
    try:
        yield
    finally:
        observer(name, start, time.time_ns())


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    # The score the ranking used: fused in hybrid mode, else the single retriever's.
    score: float
    # Raw BM25 score (0.0: no query term in the chunk) and cosine similarity; None
    # when not computed (no query vector exists in bm25 mode).
    bm25_score: float | None
    dense_score: float | None
    # 1-based rank in that retriever's candidate list; None when outside its depth.
    bm25_rank: int | None
    dense_rank: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunk": self.chunk.model_dump(mode="json"),
            "score": self.score,
            "bm25_score": self.bm25_score,
            "dense_score": self.dense_score,
            "bm25_rank": self.bm25_rank,
            "dense_rank": self.dense_rank,
        }


class Searcher(Protocol):
    """What the gateway needs from retrieval."""

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: Mode = "hybrid",
        fusion: FusionMethod | None = None,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        query_vector: np.ndarray | None = None,
        on_step: StepObserver | None = None,
    ) -> list[Hit]: ...


class HybridSearcher:
    def __init__(self, index: LoadedIndex, embedder: Embedder, config: RetrievalConfig) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def embed_query(self, query: str) -> np.ndarray:
        """One query vector, for callers that want to reuse it (guardrails, caches)."""
        return np.asarray(self.embedder.embed([query]), dtype=np.float32)[0]

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: Mode = "hybrid",
        fusion: FusionMethod | None = None,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        query_vector: np.ndarray | None = None,
        on_step: StepObserver | None = None,
    ) -> list[Hit]:
        """``on_step`` (optional) is told how long each sub-step took; results do not change."""
        k = self.config.top_k if k is None else k
        self._validate(query, k, mode, fusion)
        allowed = self.index.filters.mask(SearchFilters.parse(filters))
        if allowed is not None and not allowed.any():
            return []

        # A caller asking for more hits than the configured depth gets a deeper candidate list.
        bm25_depth = max(self.config.bm25_candidates, k)
        dense_depth = max(self.config.dense_candidates, k)
        with _timed(on_step, "bm25"):
            bm25_ids, bm25_top, bm25_all = self.index.bm25.top(
                self.index.analyzer.tokenize(query), bm25_depth, allowed
            )
        bm25 = Ranked(bm25_ids, bm25_top)
        vector: np.ndarray | None = None
        dense = Ranked(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
        if mode != "bm25":
            with _timed(on_step, "embed"):
                vector = self._query_vector(query, query_vector)
            with _timed(on_step, "dense"):
                found = self.index.dense.search(
                    vector, dense_depth, allowed, threads=self.config.faiss_threads
                )
            dense = Ranked(*found)

        with _timed(on_step, "fusion"):
            return self._fuse(bm25, bm25_all, dense, vector, k, mode, fusion)

    def _fuse(
        self,
        bm25: Ranked,
        bm25_all: np.ndarray,
        dense: Ranked,
        vector: np.ndarray | None,
        k: int,
        mode: Mode,
        fusion: FusionMethod | None,
    ) -> list[Hit]:
        if mode == "bm25":
            ids, scores = bm25.ids, bm25.scores.astype(np.float64)
        elif mode == "dense":
            ids, scores = dense.ids, dense.scores.astype(np.float64)
        elif (fusion or self.config.fusion) == "rrf":
            ids, scores = reciprocal_rank_fusion([bm25, dense], k=self.config.rrf_k)
        else:
            alpha = self.config.alpha
            ids, scores = weighted_fusion(
                [
                    replace(bm25, floor=BM25_FLOOR, exact=lambda i: bm25_all[i]),
                    replace(dense, floor=COSINE_FLOOR, exact=self._cosines(vector)),
                ],
                weights=[1.0 - alpha, alpha],
                normalization=self.config.normalization,
                missing=self.config.missing_score,
            )

        keep = scores >= self.config.min_score
        ids, scores = ids[keep][:k], scores[keep][:k]
        return self._hits(ids, scores, bm25, bm25_all, dense, vector)

    # -- helpers ------------------------------------------------------------------------

    def _cosines(self, vector: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray] | None:
        """Exact cosine of any chunk with the query: what fusion gives a candidate that
        BM25 found and the dense list did not (``missing_score="exact"``)."""
        if vector is None:
            return None
        unit = vector / (float(np.linalg.norm(vector)) or 1.0)
        return lambda ids: self.index.dense.vectors(ids) @ unit

    @staticmethod
    def _validate(query: str, k: int, mode: str, fusion: str | None) -> None:
        if not isinstance(query, str) or not query.strip():
            raise QueryError("query must be a non-empty string")
        if len(query) > MAX_QUERY_CHARS:
            raise QueryError(
                f"query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}"
            )
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise QueryError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
        if mode not in get_args(Mode):
            raise QueryError(f"mode must be one of {', '.join(get_args(Mode))}, got {mode!r}")
        if fusion is not None and fusion not in get_args(FusionMethod):
            raise QueryError(
                f"fusion must be one of {', '.join(get_args(FusionMethod))}, got {fusion!r}"
            )

    def _query_vector(self, query: str, supplied: np.ndarray | None) -> np.ndarray:
        if supplied is None:
            return self.embed_query(query)
        vector = np.asarray(supplied, dtype=np.float32)
        if vector.ndim == 2 and vector.shape[0] == 1:
            vector = vector[0]
        if vector.shape != (self.index.dense.dim,) or not np.isfinite(vector).all():
            raise QueryError(
                f"query_vector must be {self.index.dense.dim} finite floats, "
                f"got shape {vector.shape}"
            )
        return vector

    def _hits(
        self,
        ids: np.ndarray,
        scores: np.ndarray,
        bm25: Ranked,
        bm25_all: np.ndarray,
        dense: Ranked,
        vector: np.ndarray | None,
    ) -> list[Hit]:
        bm25_rank = _ranks(bm25.ids, ids)
        dense_rank = _ranks(dense.ids, ids)
        cosines: np.ndarray | None = None
        if vector is not None and len(ids):
            norm = float(np.linalg.norm(vector)) or 1.0
            cosines = self.index.dense.vectors(ids) @ (vector / norm)
        hits = []
        for position, (i, score) in enumerate(zip(ids.tolist(), scores.tolist(), strict=True)):
            hits.append(
                Hit(
                    chunk=self.index.chunks[i],
                    score=float(score),
                    bm25_score=float(bm25_all[i]),
                    dense_score=None if cosines is None else float(cosines[position]),
                    bm25_rank=bm25_rank[position],
                    dense_rank=dense_rank[position],
                )
            )
        return hits


def _ranks(ranked: np.ndarray, ids: np.ndarray) -> list[int | None]:
    """1-based position of each of ``ids`` in ``ranked`` (None where absent). Only the
    few returned hits are looked up: a dict over every candidate cost more per query
    than the whole BM25 top-k."""
    if not len(ids) or not len(ranked):
        return [None] * len(ids)
    match = np.asarray(ids)[:, None] == np.asarray(ranked)[None, :]
    found = match.any(axis=1).tolist()
    first = match.argmax(axis=1).tolist()
    return [f + 1 if ok else None for f, ok in zip(first, found, strict=True)]
