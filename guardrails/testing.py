"""Helpers for tests of code that uses the guard pipeline (shipped, like pydantic-ai's TestModel).

``StaticLimits`` stands in for ``GuardSettings`` without reading the
environment; ``CountingEmbedder`` wraps a real embedder and counts calls, so a
test can prove the pipeline reused a precomputed query embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.embedding.base import Embedder


@dataclass(frozen=True)
class StaticLimits:
    max_message_chars: int = 4000
    max_turns: int = 40
    max_total_tokens: int = 8000


@dataclass
class CountingEmbedder:
    inner: Embedder
    calls: list[int] = field(default_factory=list)  # number of texts per call

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def warm_up(self) -> None:
        self.inner.warm_up()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return self.inner.embed(texts)


def user(text: str) -> list[dict[str, str]]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]
