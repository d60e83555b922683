"""A test double for the ``Embedder`` seam: deterministic pseudo-random unit vectors.

Each text maps to a vector seeded by its SHA-256, so the same text always gets
the same vector and different texts get (nearly) orthogonal ones. It carries no
meaning; use it where only the plumbing matters (filters, index files, scale
benchmarks with random vectors), never to judge retrieval quality.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class HashingEmbedder:
    def __init__(self, dim: int = 384, name: str = "ladder/hashing-test-embedder") -> None:
        self._dim = dim
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def warm_up(self) -> None:
        return None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            out[row] = np.random.default_rng(seed).standard_normal(self._dim)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out
