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
