"""What the guards of one request share: the messages (being redacted), the embedding, the answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from guardrails.normalize import clean_text
from guardrails.pii.redactor import PiiMap
from retrieval.embedding.base import Embedder


class LimitSettings(Protocol):
    """Satisfied by gateway.settings.GuardSettings (structural: no import of the gateway)."""

    @property
    def max_message_chars(self) -> int: ...

    @property
    def max_turns(self) -> int: ...

    @property
    def max_total_tokens(self) -> int: ...


@dataclass(frozen=True)
class SourceChunk:
    """A retrieved passage as the output guards see it. ``marker`` is its [n] in the answer."""

    id: str
    text: str
    marker: int | None = None
    embedding: np.ndarray | None = None


def last_user_index(messages: list[dict[str, str]]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return len(messages) - 1


@dataclass
class InputContext:
    messages: list[dict[str, str]]
    limits: LimitSettings
    embedder: Embedder
    redacted: list[dict[str, str]] = field(default_factory=list)
    pii_map: PiiMap = field(default_factory=PiiMap)
    query_embedding: np.ndarray | None = None
    computed_embedding: bool = False
    embedding_ms: float = 0.0
    # The text the caller will search with, given the redacted messages and the
    # retrieval query (the gateway's planner drops role names and adds section words).
    # When it differs, it is embedded in the same model call as the guard's text: one
    # batch of two costs well under two calls, and the request needs no second call.
    companion: Callable[[list[dict[str, str]], str], str] | None = None
    companion_text: str | None = None
    companion_embedding: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.redacted:
            self.redacted = [dict(message) for message in self.messages]

    @property
    def last_user_text(self) -> str:
        return self.redacted[last_user_index(self.redacted)].get("content", "")

    @property
    def earlier_user_texts(self) -> list[str]:
        last = last_user_index(self.redacted)
        return [
            m.get("content", "")
            for i, m in enumerate(self.redacted)
            if i != last and m.get("role") != "assistant"
        ]

    @property
    def retrieval_query(self) -> str:
        """The text retrieval searches with and the embedding is of: redacted, normalized."""
        return clean_text(self.last_user_text)

    def embedding(self) -> np.ndarray:
        if self.query_embedding is None:
            started = time.perf_counter()
            texts = [self.retrieval_query]
            extra = self.companion(self.redacted, texts[0]) if self.companion else None
            if extra and extra != texts[0]:
                texts.append(extra)
            vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
            self.query_embedding = vectors[0]
            if len(texts) == 2:
                self.companion_text, self.companion_embedding = texts[1], vectors[1]
            self.embedding_ms = (time.perf_counter() - started) * 1000
            self.computed_embedding = True
        return self.query_embedding


@dataclass
class OutputContext:
    text: str
    chunks: list[SourceChunk]
    embedder: Embedder
    system_prompt: str
    secrets: list[str]
    pii_map: PiiMap
    # Canonical PII values present in the (redacted) input: echoing them is not a leak.
    input_pii: AbstractSet[tuple[str, str]] = frozenset()
    abstain_texts: list[str] = field(default_factory=list)
    removed_sentences: list[str] = field(default_factory=list)
