"""The Provider seam.

A provider turns a rendered prompt (plus the structured evidence it was built
from) into an answer, whole or streamed. Providers own their transport; the
router above them owns retries, fallback and the circuit breaker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk as the prompt and the extractive provider see it."""

    marker: int
    chunk_id: str
    title: str
    section_path: str
    text: str
    score: float
    kind: str = "text"
    cells: dict[str, str] | None = None
    # Cosine similarity of the query to the chunk (absolute, unlike the fused score);
    # the extractive provider uses it to judge whether evidence is strong enough.
    similarity: float | None = None


@dataclass(frozen=True)
class ProviderRequest:
    model: str  # the upstream model name (already resolved from the alias)
    messages: list[dict[str, str]]  # rendered system + history + user
    question: str
    passages: list[Passage]
    temperature: float = 0.0
    max_tokens: int | None = None
    stop: list[str] | None = None
    user: str | None = None
    # Corpus-level weight (BM25 IDF) of each analyzer term of the question; terms the
    # corpus never uses get the largest weight. Lets the extractive provider judge
    # evidence the way the whole corpus sees the words: a topic the blueprints lack
    # (salary, visa) weighs heavily, phrasing they merely do not share weighs little.
    term_weights: Mapping[str, float] = field(default_factory=dict)


@dataclass
class ProviderUsage:
    prompt_tokens: int
    completion_tokens: int


@dataclass
class ProviderResponse:
    text: str
    model: str
    finish_reason: str = "stop"
    usage: ProviderUsage | None = None  # as reported by the upstream, if it did
    abstained: bool = False


@dataclass
class StreamDelta:
    text: str = ""
    finish_reason: str | None = None
    usage: ProviderUsage | None = None
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    name: str

    async def start(self) -> None:
        """Open clients / load resources (called from the app lifespan)."""

    async def close(self) -> None: ...

    async def complete(self, request: ProviderRequest, *, timeout: float) -> ProviderResponse: ...

    def stream(self, request: ProviderRequest, *, timeout: float) -> AsyncIterator[StreamDelta]:
        """Yield deltas; raise ProviderError on failure (also mid-stream)."""

    async def ready(self) -> bool:
        """Cheap readiness probe for /readyz and the router."""
