"""The Embedder seam: texts in, L2-normalized float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Identifies the weights (stored in the index manifest)."""

    @property
    def dim(self) -> int: ...

    def warm_up(self) -> None:
        """Load weights; constructors stay cheap."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, rows L2-normalized."""


@runtime_checkable
class PassageEmbedder(Protocol):
    """An embedder with a wider window for indexed passages than for queries."""

    @property
    def passage_max_tokens(self) -> int:
        """Tokens of a passage that reach the model (recorded in the index manifest)."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Like ``embed``, truncating each text at the passage window, not the query one."""


def embed_passages(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Index-time embedding: the passage window where the embedder has one."""
    if isinstance(embedder, PassageEmbedder):
        return embedder.embed_passages(texts)
    return embedder.embed(texts)
