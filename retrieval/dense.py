"""Dense retrieval over L2-normalized vectors with faiss (inner product = cosine).

``flat`` (IndexFlatIP) is exact and the default: the blueprint corpus is small
and exact search over 100k x 384 floats still takes a few milliseconds. ``hnsw``
(IndexHNSWFlat, inner-product metric) is approximate and meant for corpora where
a linear scan per query becomes the bottleneck.

Filters are applied inside the search: faiss receives an ``IDSelectorBitmap`` of
the allowed ids, so an excluded vector is never scored, let alone returned. With
HNSW a very selective filter starves the graph walk, so below
``EXACT_SUBSET_LIMIT`` allowed ids the subset is scanned exactly instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

IndexKind = Literal["flat", "hnsw"]

# Exact scan of up to 20k allowed vectors costs ~1-2 ms; cheaper and more
# accurate than an HNSW walk that has to skip most of the nodes it visits.
EXACT_SUBSET_LIMIT = 20_000


@dataclass(frozen=True)
class HnswParams:
    m: int = 32
    ef_construction: int = 100
    ef_search: int = 128


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class DenseIndex:
    def __init__(self, index: Any, kind: IndexKind, hnsw: HnswParams | None = None) -> None:
        import faiss

        self._faiss = faiss
        self.index = index
        self.kind = kind
        self.hnsw = hnsw or HnswParams()
        if kind == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = self.hnsw.ef_search
        # A view of the stored vectors (no copy) for exact scans of filtered subsets.
        flat = (
            faiss.downcast_index(index.storage) if kind == "hnsw" else faiss.downcast_index(index)
        )
        self._vectors = (
            faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
            if index.ntotal
            else np.empty((0, index.d), dtype=np.float32)
        )

    def _use_threads(self, threads: int) -> None:
        # One query gains nothing from more threads: on 2 busy cores a 100k flat search
        # took 63 ms with 2 OpenMP threads and 16 ms with 1, and the gateway already runs
        # searches in parallel from its thread pool. OpenMP's thread count belongs to the
        # calling thread, so each pool worker sets its own once; then this is one cheap call.
        if self._faiss.omp_get_max_threads() != threads:
            self._faiss.omp_set_num_threads(threads)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(
        cls, vectors: np.ndarray, kind: IndexKind = "flat", hnsw: HnswParams | None = None
    ) -> DenseIndex:
        import faiss

        vectors = normalize(vectors)
        dim = vectors.shape[1]
        hnsw = hnsw or HnswParams()
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = hnsw.ef_construction
        else:
            index = faiss.IndexFlatIP(dim)
        if len(vectors):
            # Building is the one place where all cores pay off (HNSW insertion is parallel).
            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            try:
                index.add(vectors)
            finally:
                faiss.omp_set_num_threads(previous)
        return cls(index, kind, hnsw)

    def save(self, path: Path) -> None:
        self._faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: IndexKind, hnsw: HnswParams | None = None) -> DenseIndex:
        import faiss

        return cls(faiss.read_index(str(path)), kind, hnsw)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._vectors[ids]

    def search(
        self, query: np.ndarray, depth: int, allowed: np.ndarray | None = None, *, threads: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine scores) of the ``depth`` nearest allowed vectors, best first."""
        query = normalize(query.reshape(1, -1))
        self._use_threads(threads)
        if allowed is None:
            depth = min(depth, self.size)
            if depth == 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            scores, ids = self.index.search(query, depth)
            return self._valid(ids[0], scores[0])
        allowed_ids = np.flatnonzero(allowed)
        depth = min(depth, allowed_ids.size)
        if depth == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if self.kind == "hnsw" and allowed_ids.size <= EXACT_SUBSET_LIMIT:
            return self._exact(query[0], allowed_ids, depth)
        bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
        selector = self._faiss.IDSelectorBitmap(self.size, self._faiss.swig_ptr(bitmap))
        if self.kind == "hnsw":
            params = self._faiss.SearchParametersHNSW(
                sel=selector, efSearch=max(self.hnsw.ef_search, depth)
            )
        else:
            params = self._faiss.SearchParameters(sel=selector)
        scores, ids = self.index.search(query, depth, params=params)
        del bitmap  # the selector points into it: keep it alive until here
        return self._valid(ids[0], scores[0])

    def _exact(
        self, query: np.ndarray, ids: np.ndarray, depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self._vectors[ids] @ query
        if ids.size > depth:
            keep = np.argpartition(-scores, depth - 1)[:depth]
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))
        return ids[order].astype(np.int64), scores[order].astype(np.float32)

    @staticmethod
    def _valid(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = ids >= 0  # faiss pads with -1 when fewer results exist
        return ids[keep].astype(np.int64), scores[keep].astype(np.float32)
