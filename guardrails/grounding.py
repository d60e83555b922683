"""Output guards: citation markers must point at retrieved passages; every claim must be supported.

Support of a sentence by a passage =
    lexical_weight * (share of the sentence's content words found in the passage)
  + (1 - lexical_weight) * max(0, cosine(sentence embedding, passage embedding)),
and 0 when the sentence states a number the passage does not contain: a target
("reduce p95 latency to 200 ms") is exactly what must not be invented.
A sentence is checked against the passages it cites; a sentence without a
marker borrows the markers of the next cited sentence in its paragraph (the
"claim. claim. [2]" style), else of the previous one.

The lexical part is computed first. When it alone clears the threshold (the
cosine term can only add to it), the sentence is supported and is not embedded:
its reported support is then that lower bound. Quoted sentences (everything
the extractive provider writes, and much of what an LLM copies from its
sources) take this path, which keeps the model off the hot path of most answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from guardrails.base import GuardResult, Stage
from guardrails.context import OutputContext, SourceChunk
from guardrails.policy import CitationsConfig, GroundingConfig
from guardrails.text import (
    Sentence,
    content_words,
    keep_sentences,
    numbers,
    source_numbers,
    source_words,
    split_sentences,
)

# [1], [2, 3], [1][3]; or a chunk id (16 hex characters) in brackets.
_MARKER = re.compile(r"\[(\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*|[0-9a-f]{16})\]")
_FILLER = re.compile(r"^\W*$")


def _marker_map(chunks: list[SourceChunk]) -> dict[str, SourceChunk]:
    mapping: dict[str, SourceChunk] = {}
    for position, chunk in enumerate(chunks, start=1):
        mapping[str(chunk.marker if chunk.marker is not None else position)] = chunk
        mapping[chunk.id] = chunk
    return mapping


def _marker_keys(group: str) -> list[str]:
    return [key.strip() for key in re.split(r"[,;]", group) if key.strip()]


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", text)).strip()


class CitationGuard:
    name = "citations"
    stage: Stage = "output"

    def warm_up(self) -> None:
        _MARKER.search("[1]")

    def check(self, context: OutputContext, config: CitationsConfig, apply: bool) -> GuardResult:
        known = _marker_map(context.chunks)
        invalid: list[str] = []
        total = 0

        def fix(match: re.Match[str]) -> str:
            nonlocal total
            keys = _marker_keys(match.group(1))
            total += len(keys)
            good = [key for key in keys if key in known]
            invalid.extend(key for key in keys if key not in known)
            return f"[{', '.join(good)}]" if good else ""

        fixed = _MARKER.sub(fix, context.text)
        if apply and invalid:
            context.text = re.sub(r"[ \t]+([.,;:!?])", r"\1", fixed)
        return GuardResult(
            triggered=bool(invalid),
            score=float(len(invalid)),
            threshold=1.0,
            reasons=[f"markers={total}", *(f"unknown_marker=[{key}]" for key in invalid)],
            code="invalid_citation" if invalid else None,
        )


@dataclass(frozen=True)
class SentenceSupport:
    index: int
    sentence: Sentence
    support: float
    cited: list[str]
    reason: str


class GroundingGuard:
    name = "grounding"
    stage: Stage = "output"

    def warm_up(self) -> None:
        content_words("warm up the stemmer")

    def assess(
        self, context: OutputContext, config: GroundingConfig
    ) -> tuple[list[Sentence], list[SentenceSupport]]:
        """All sentences, and the support of each claim sentence (connective text is exempt)."""
        sentences = split_sentences(context.text)
        known = _marker_map(context.chunks)
        abstain = {strip_markers(text).casefold() for text in context.abstain_texts}
        claims: list[tuple[int, Sentence, str, list[str]]] = []
        own = [
            [k for m in _MARKER.finditer(s.text) for k in _marker_keys(m.group(1)) if k in known]
            for s in sentences
        ]
        for index, sentence in enumerate(sentences):
            plain = strip_markers(sentence.text)
            if _FILLER.match(plain) or plain.casefold() in abstain:
                continue
            if len(content_words(plain)) < config.min_content_words:
                continue
            cited = own[index] or _borrowed(sentences, own, index)
            claims.append((index, sentence, plain, cited))
        if not claims:
            return sentences, []
        results: dict[int, SentenceSupport] = {}
        pending: list[tuple[int, Sentence, str, list[str]]] = []
        for index, sentence, plain, cited in claims:
            if not cited and config.require_citations:
                results[index] = SentenceSupport(index, sentence, 0.0, [], "no_citation")
                continue
            candidates = [known[key] for key in cited] if cited else list(context.chunks)
            bound, why = _lexical_bound(plain, candidates, config.lexical_weight)
            if bound >= config.threshold:
                results[index] = SentenceSupport(index, sentence, round(bound, 4), cited, why)
            else:
                pending.append((index, sentence, plain, cited))
        if pending:
            vectors = self._vectors(context, [plain for _, _, plain, _ in pending])
            known = _marker_map(context.chunks)  # now every chunk carries its embedding
            for (index, sentence, plain, cited), vector in zip(pending, vectors, strict=True):
                candidates = [known[key] for key in cited] if cited else list(context.chunks)
                support, reason = 0.0, "no_sources"
                for chunk in candidates:
                    score, why = _support(plain, vector, chunk, config.lexical_weight)
                    if score > support or reason == "no_sources":
                        support, reason = score, why
                results[index] = SentenceSupport(index, sentence, round(support, 4), cited, reason)
        return sentences, [results[index] for index, _, _, _ in claims]

    def check(self, context: OutputContext, config: GroundingConfig, apply: bool) -> GuardResult:
        sentences, results = self.assess(context, config)
        unsupported = [r for r in results if r.support < config.threshold]
        reasons = [f"claims={len(results)}", f"unsupported={len(unsupported)}"]
        reasons += [
            f"sentence_{r.index + 1}: support={r.support:.2f} cited={r.cited or '-'} ({r.reason})"
            for r in unsupported
        ]
        removed_fraction = len(unsupported) / len(results) if results else 0.0
        too_much = bool(unsupported) and removed_fraction > config.max_removed_fraction
        if apply and unsupported and not too_much:
            dropped = {r.index for r in unsupported}
            context.removed_sentences += [s.text for i, s in enumerate(sentences) if i in dropped]
            context.text = keep_sentences(
                context.text, [s for i, s in enumerate(sentences) if i not in dropped]
            )
        lowest = min((r.support for r in results), default=1.0)
        return GuardResult(
            triggered=bool(unsupported),
            score=round(lowest, 4),
            threshold=config.threshold,
            reasons=reasons + (["too_many_unsupported_sentences"] if too_much else []),
            # The pipeline refuses on this code even when the action is "remove".
            code=("ungrounded" if too_much else "unsupported_sentences") if unsupported else None,
        )

    @staticmethod
    def _vectors(context: OutputContext, texts: list[str]) -> np.ndarray:
        missing = [i for i, chunk in enumerate(context.chunks) if chunk.embedding is None]
        embedded = context.embedder.embed(texts + [context.chunks[i].text for i in missing])
        for offset, position in enumerate(missing):
            chunk = context.chunks[position]
            # SourceChunk is frozen: store a copy that carries its vector.
            context.chunks[position] = SourceChunk(
                chunk.id, chunk.text, chunk.marker, embedded[len(texts) + offset]
            )
        return embedded[: len(texts)]


def _borrowed(sentences: list[Sentence], own: list[list[str]], index: int) -> list[str]:
    paragraph = sentences[index].paragraph
    for other in range(index + 1, len(sentences)):
        if sentences[other].paragraph != paragraph:
            break
        if own[other]:
            return own[other]
    for other in range(index - 1, -1, -1):
        if sentences[other].paragraph != paragraph:
            break
        if own[other]:
            return own[other]
    return []


def _lexical(plain: str, chunk: SourceChunk) -> float | None:
    """Share of the sentence's content words in the chunk; None when it states a
    number the chunk does not contain."""
    if numbers(plain) - source_numbers(chunk.text):
        return None
    words = set(content_words(plain))
    return len(words & source_words(chunk.text)) / len(words) if words else 0.0


def _lexical_bound(
    plain: str, candidates: list[SourceChunk], lexical_weight: float
) -> tuple[float, str]:
    """The best support any candidate gives before the (non-negative) cosine term."""
    best, why = 0.0, "no_sources"
    for chunk in candidates:
        lexical = _lexical(plain, chunk)
        if lexical is not None and (lexical_weight * lexical > best or why == "no_sources"):
            best, why = lexical_weight * lexical, f"lexical={lexical:.2f} cosine=not needed"
    return best, why


def _support(
    plain: str, vector: np.ndarray, chunk: SourceChunk, lexical_weight: float
) -> tuple[float, str]:
    lexical = _lexical(plain, chunk)
    if lexical is None:
        return 0.0, "number_not_in_source"
    assert chunk.embedding is not None
    cosine = max(0.0, float(np.dot(vector, chunk.embedding)))
    score = lexical_weight * lexical + (1 - lexical_weight) * cosine
    return score, f"lexical={lexical:.2f} cosine={cosine:.2f}"
