"""Output guards against leaks: secrets, PII the user did not give us, the system prompt."""

from __future__ import annotations

import re
from functools import cache, lru_cache

from guardrails.base import GuardResult, Stage
from guardrails.context import OutputContext
from guardrails.pii.detector import detect_pii
from guardrails.pii.redactor import canonical
from guardrails.policy import PiiLeakConfig, SecretLeakConfig, SystemPromptLeakConfig
from guardrails.text import keep_sentences, source_ngrams, split_sentences, word_ngrams

SECRET_PLACEHOLDER = "[REDACTED_SECRET]"
# Shapes of credentials that must never appear in an answer, whoever's they are.
_SECRET_PATTERNS = (
    ("openai_key", r"\bsk-(?:proj-|svcacct-|ant-)?[A-Za-z0-9_-]{20,}"),
    ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    ("slack_token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("private_key", r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("bearer_token", r"\b[Bb]earer\s+[A-Za-z0-9._~+/-]{20,}=*"),
)
# Shorter configured secrets would match ordinary words.
MIN_SECRET_CHARS = 6


@cache
def _secret_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(pattern)) for name, pattern in _SECRET_PATTERNS)


class SecretLeakGuard:
    name = "secret_leak"
    stage: Stage = "output"

    def warm_up(self) -> None:
        _secret_patterns()

    def check(self, context: OutputContext, config: SecretLeakConfig, apply: bool) -> GuardResult:
        spans: list[tuple[int, int, str]] = []
        for index, secret in enumerate(s for s in context.secrets if len(s) >= MIN_SECRET_CHARS):
            start = context.text.find(secret)
            while start >= 0:
                spans.append((start, start + len(secret), f"configured_secret_{index + 1}"))
                start = context.text.find(secret, start + 1)
        for name, pattern in _secret_patterns():
            spans += [(m.start(), m.end(), name) for m in pattern.finditer(context.text)]
        if apply and spans:
            context.text = _replace_spans(context.text, spans, lambda _: SECRET_PLACEHOLDER)
        return GuardResult(
            triggered=bool(spans),
            score=float(len(spans)),
            threshold=1.0,
            reasons=sorted({kind for _, _, kind in spans}),
            code="secret_leak" if spans else None,
        )


class PiiLeakGuard:
    """PII in the answer that was not in the (redacted) input. Placeholders never match.

    A name the retrieved passages print verbatim is not a leak either: the name finder is a
    heuristic, and the blueprints name tools after people ("Monte Carlo" is a data-observability
    product), which redaction would garble. Structured PII (emails, phones, cards ...) in a
    passage is still redacted: a published blueprint should not carry it at all.
    """

    name = "pii_leak"
    stage: Stage = "output"

    def warm_up(self) -> None:
        detect_pii("warm up")

    def check(self, context: OutputContext, config: PiiLeakConfig, apply: bool) -> GuardResult:
        leaked = [
            span
            for span in detect_pii(context.text)
            if (span.type, canonical(span.type, span.text)) not in context.input_pii
            and not (span.type == "PERSON" and _in_sources(span.text, context))
        ]
        if apply and leaked:
            spans = [(s.start, s.end, s.type) for s in leaked]
            by_start = {s.start: s for s in leaked}
            context.text = _replace_spans(
                context.text, spans, lambda start: context.pii_map.placeholder_for(by_start[start])
            )
        counts: dict[str, int] = {}
        for span in leaked:
            counts[span.type] = counts.get(span.type, 0) + 1
        return GuardResult(
            triggered=bool(leaked),
            score=float(len(leaked)),
            threshold=1.0,
            reasons=[f"{kind}={count}" for kind, count in sorted(counts.items())],
            code="pii_leak" if leaked else None,
        )


def _in_sources(text: str, context: OutputContext) -> bool:
    return any(text in chunk.text for chunk in context.chunks)


@lru_cache(maxsize=32)
def _protected_ngrams(system_prompt: str, sources: tuple[str, ...], n: int) -> frozenset[tuple[str, ...]]:
    """System-prompt n-grams that no source passage contains: quoting a passage that the
    prompt also shows is not a leak. The same for every streamed sentence of an answer,
    so computed once per request (the small cache holds the requests in flight)."""
    protected = word_ngrams(system_prompt, n)
    for text in sources:
        protected -= source_ngrams(text, n)
    return frozenset(protected)


class SystemPromptLeakGuard:
    """Long word n-grams shared with the system prompt, minus those the sources also contain
    (a RAG system prompt often quotes the passages, which the answer may quote too)."""

    name = "system_prompt_leak"
    stage: Stage = "output"

    def warm_up(self) -> None:
        word_ngrams("warm up", 2)

    def check(
        self, context: OutputContext, config: SystemPromptLeakConfig, apply: bool
    ) -> GuardResult:
        n = config.min_ngram
        if not context.system_prompt.strip():
            return GuardResult(False, 0.0, float(n), ["no_system_prompt"])
        protected = _protected_ngrams(context.system_prompt, tuple(c.text for c in context.chunks), n)
        answer_ngrams = word_ngrams(context.text, n)
        shared = answer_ngrams & protected
        score = len(shared) / len(answer_ngrams) if answer_ngrams else 0.0
        if apply and shared:
            kept = []
            for sentence in split_sentences(context.text):
                if word_ngrams(sentence.text, n) & shared:
                    context.removed_sentences.append(sentence.text)
                else:
                    kept.append(sentence)
            context.text = keep_sentences(context.text, kept)
        return GuardResult(
            triggered=bool(shared),
            score=round(score, 4),
            threshold=0.0,
            reasons=[f"shared_{n}grams={len(shared)}"],
            code="system_prompt_leak" if shared else None,
        )


def _replace_spans(text: str, spans: list[tuple[int, int, str]], placeholder) -> str:  # type: ignore[no-untyped-def]
    pieces, cursor = [], 0
    for start, end, _ in sorted(spans):
        if start < cursor:
            continue  # overlapping matches of two patterns: the first wins
        pieces += [text[cursor:start], placeholder(start)]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
