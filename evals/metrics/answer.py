"""Answer metrics: fact recall, citation precision, groundedness, must_not_contain.

Text normalization and the support rule live in ``evals.metrics.text``.

* Fact recall: share of the case's expected facts stated in the answer; a fact
  is stated when any of its accepted spellings occurs in the normalized answer.
* Citation precision: over every (sentence, marker) pair of the answer, the
  share whose cited passage supports the sentence. The passage is the retrieved
  chunk's full text when the citation's chunk is among the retrieved ones (a
  quote may be trimmed for display), else the citation's quote, each under its
  section path (headings are part of what a passage says). A marker with no
  citation behind it counts as unsupported. No markers at all: not scored.
* Groundedness: share of the answer's sentences (those with content words)
  supported by at least one retrieved chunk or cited passage. Refusals and
  blocked requests are not scored: there is no claim to ground.
* must_not_contain violations: how many of the case's forbidden strings occur
  in the normalized answer (a count, summed over cases).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evals.metrics.base import Aggregate, MetricRegistry
from evals.metrics.text import SupportChecker, contains_phrase, normalize, split_sentences
from evals.schema import GoldenCase
from gateway.pipeline_types import PipelineResult


def expects_answer(case: GoldenCase) -> bool:
    return not (case.must_refuse or case.must_block)


def stated_facts(case: GoldenCase, answer: str) -> list[bool]:
    text = normalize(answer)
    return [any(contains_phrase(text, variant) for variant in fact.any_of) for fact in case.expected_facts]


def violations(case: GoldenCase, answer: str) -> list[str]:
    text = normalize(answer)
    return [s for s in case.must_not_contain if contains_phrase(text, s)]


def _passages(result: PipelineResult) -> dict[str, str]:
    """chunk id → the fullest text we have for it, under its section path: a heading is
    part of what a passage says ("60-day goals" makes "join the on-call rotation" a
    60-day goal), the citation shows it, and the output guards judge the same text."""
    texts = {c.chunk_id: f"{c.section_path}\n{c.quote}" for c in result.citations}
    texts.update({chunk.chunk_id: f"{chunk.section_path}\n{chunk.text}" for chunk in result.retrieved})
    return texts


@dataclass(frozen=True)
class FactRecall:
    name: str = "fact_recall"
    description: str = "share of expected facts stated in the answer"
    higher_is_better: bool = True
    aggregate: Aggregate = "mean"

    def applies(self, case: GoldenCase) -> bool:
        return bool(case.expected_facts)

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        found = stated_facts(case, result.answer)
        return sum(found) / len(found)


@dataclass(frozen=True)
class CitationPrecision:
    name: str = "citation_precision"
    description: str = "share of citations whose passage supports the sentence they back"
    higher_is_better: bool = True
    aggregate: Aggregate = "mean"
    checker: SupportChecker = field(default_factory=SupportChecker, compare=False, repr=False)

    def applies(self, case: GoldenCase) -> bool:
        return expects_answer(case)

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        if result.blocked:
            return None
        by_marker = {c.marker: c.chunk_id for c in result.citations}
        passages = _passages(result)
        pairs = supported = 0
        for sentence in split_sentences(result.answer):
            for marker in sentence.markers:
                pairs += 1
                chunk_id = by_marker.get(marker)
                if chunk_id is not None and self.checker.supports(sentence.text, passages[chunk_id]):
                    supported += 1
        return supported / pairs if pairs else None


@dataclass(frozen=True)
class Groundedness:
    name: str = "groundedness"
    description: str = "share of answer sentences supported by a retrieved passage"
    higher_is_better: bool = True
    aggregate: Aggregate = "mean"
    checker: SupportChecker = field(default_factory=SupportChecker, compare=False, repr=False)

    def applies(self, case: GoldenCase) -> bool:
        return expects_answer(case)

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        if result.refused or result.blocked:
            return None
        sentences = [s.text for s in split_sentences(result.answer) if self.checker.has_content(s.text)]
        if not sentences:
            return None
        passages = list(_passages(result).values())
        grounded = sum(1 for s in sentences if any(self.checker.supports(s, p) for p in passages))
        return grounded / len(sentences)


@dataclass(frozen=True)
class MustNotContain:
    name: str = "must_not_contain_violations"
    description: str = "forbidden strings found in answers (count)"
    higher_is_better: bool = False
    aggregate: Aggregate = "sum"

    def applies(self, case: GoldenCase) -> bool:
        return bool(case.must_not_contain)

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        return float(len(violations(case, result.answer)))


def register(registry: MetricRegistry) -> None:
    registry.register(FactRecall())
    registry.register(CitationPrecision())
    registry.register(Groundedness())
    registry.register(MustNotContain())
