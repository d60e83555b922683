"""Prompt and completion token counts for every request, whatever the provider.

Which count is recorded, in order of preference:

1. ``"provider"`` - the provider reported both prompt and completion tokens
   (OpenAI ``usage``, Ollama ``prompt_eval_count``/``eval_count`` translated by
   its adapter). The provider ran the real tokenizer, so we trust it.
2. ``"tiktoken"`` - tiktoken knows the model's encoding (o200k_base for
   gpt-4o/4.1/5 and the o-series, cl100k_base for gpt-4/3.5).
3. ``"approx:<encoding>"`` - the upstream tokenizer is not available offline
   (llama, mistral, qwen behind Ollama/vLLM, the extractive provider). We count
   with cl100k_base, which lands within roughly 10-20% of those SentencePiece
   vocabularies on English prose: good enough for budgets and rate limits,
   labelled so nobody mistakes it for an exact figure. Models whose encoding is
   a variant of a packaged one (gpt-oss's ``o200k_harmony`` only adds special
   tokens to ``o200k_base``) are counted with the base and labelled likewise.

Chat messages follow OpenAI's published counting convention ("How to count
tokens with tiktoken", openai-cookbook): every message costs 3 tokens of
framing plus its encoded fields, a ``name`` field 1 more, and every reply is
primed with 3 tokens (``<|start|>assistant<|message|>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tiktoken

from retrieval.tokens import DEFAULT_ENCODING, PACKAGED_ENCODINGS, count_tokens, get_encoding

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

# Encodings tiktoken names for some models that are the packaged BPE plus extra
# special tokens; ordinary text encodes identically.
_BASE_OF_VARIANT = {"o200k_harmony": "o200k_base"}

Message = Mapping[str, Any] | Any  # a dict, or an object with role/content (pydantic model)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    source: str  # "provider" | "tiktoken" | "approx:<encoding>"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        source = self.source if self.source == other.source else "mixed"
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            source,
        )


@dataclass(frozen=True, slots=True)
class ProviderUsage:
    """What a provider adapter reports; either field may be missing."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def complete(self) -> bool:
        return (
            self.prompt_tokens is not None
            and self.completion_tokens is not None
            and self.prompt_tokens >= 0
            and self.completion_tokens >= 0
        )


def _bare_model(model: str | None) -> str | None:
    # Routing targets may be written "openai/gpt-4o"; tiktoken wants "gpt-4o".
    if model and "/" in model:
        return model.rsplit("/", 1)[1]
    return model


@lru_cache(maxsize=256)
def resolve_encoding(model: str | None) -> tuple[str, str]:
    """(encoding name, usage source) for a model id; never raises."""
    bare = _bare_model(model)
    if bare:
        try:
            name = tiktoken.encoding_name_for_model(bare)
        except KeyError:
            name = None
        if name in PACKAGED_ENCODINGS:
            return name, "tiktoken"
        if name in _BASE_OF_VARIANT:
            base = _BASE_OF_VARIANT[name]
            return base, f"approx:{base}"
    return DEFAULT_ENCODING, f"approx:{DEFAULT_ENCODING}"


# One request counts its rendered prompt twice (the budget reservation before the
# provider call, the usage after it) and most chat messages are short repeats; the
# prompt of a few thousand tokens costs ~1 ms to encode, a dictionary lookup nothing.
# Small on purpose: only a request's own repeats matter, and a long soak must not see
# the cache grow the process by more than a few MB of prompt text.
@lru_cache(maxsize=256)
def _count(text: str, encoding: str) -> int:
    return count_tokens(text, encoding)


class TokenCounter:
    """Counts tokens offline. Cheap to construct; ``warm_up()`` loads the BPE tables."""

    def warm_up(self, models: Iterable[str | None] | None = None) -> None:
        """Load the BPE tables ``models`` count with (all packaged ones when None).

        Each table costs 70-100 MB per process, so the gateway loads only the ones its
        routed models use, plus the default; another loads on its first use."""
        names = (
            set(PACKAGED_ENCODINGS)
            if models is None
            else {DEFAULT_ENCODING} | {resolve_encoding(model)[0] for model in models}
        )
        for name in sorted(names):
            get_encoding(name)

    def count_text(self, text: str, model: str | None = None) -> int:
        encoding, _ = resolve_encoding(model)
        return _count(text, encoding)

    def count_messages(self, messages: Iterable[Message], model: str | None = None) -> int:
        """Prompt tokens of a chat request, framing overhead and reply priming included."""
        encoding, _ = resolve_encoding(model)
        total = 0
        for message in messages:
            total += TOKENS_PER_MESSAGE
            fields = message if isinstance(message, Mapping) else _fields_of(message)
            for field, value in fields.items():
                if value is None:
                    continue
                total += _count(_as_text(value), encoding)
                if field == "name":
                    total += TOKENS_PER_NAME
        return total + REPLY_PRIMING_TOKENS

    def usage(
        self,
        model: str | None,
        messages: Iterable[Message],
        completion: str,
        provider_usage: ProviderUsage | None = None,
    ) -> TokenUsage:
        """The usage to record: the provider's when it sent a complete one, else counted."""
        if provider_usage is not None and provider_usage.complete:
            return TokenUsage(
                int(provider_usage.prompt_tokens),  # type: ignore[arg-type]
                int(provider_usage.completion_tokens),  # type: ignore[arg-type]
                "provider",
            )
        _, source = resolve_encoding(model)
        return TokenUsage(
            self.count_messages(messages, model), self.count_text(completion, model), source
        )


def _fields_of(message: object) -> Mapping[str, Any]:
    # Pydantic request models (the gateway's ChatMessage) as well as plain dicts.
    dump = getattr(message, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True)  # type: ignore[no-any-return]
    return {k: getattr(message, k) for k in ("role", "name", "content") if hasattr(message, k)}


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    # Multi-part content (OpenAI's [{"type": "text", "text": ...}]): count the text parts.
    if isinstance(value, list):
        return "".join(
            str(part.get("text", "")) if isinstance(part, Mapping) else str(part) for part in value
        )
    return str(value)
