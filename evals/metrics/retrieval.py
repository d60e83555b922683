"""Retrieval metrics at section level: Recall@k, MRR, nDCG@k.

A retrieved chunk *matches* an expected source (a section id) when its section
id equals the source or lies below it (``source + "/"`` is a prefix), so a chunk
of ``role/kpis/targets`` matches the expected source ``role/kpis``.

* Recall@k: share of expected sources matched by at least one of the top-k chunks.
* MRR: 1 / rank of the first chunk (over the whole retrieved list) that matches
  any expected source; 0 when none does.
* nDCG@k, binary relevance at section level: the chunk at rank i (1-based) has
  relevance 1 when it matches an expected source that no higher-ranked chunk
  matched, else 0 - a second chunk of an already-found section earns nothing,
  since the reader already has that section. DCG@k = sum_i rel_i / log2(i + 1);
  the ideal ranking puts one chunk per expected source first, so
  IDCG@k = sum_{i=1..min(|S|, k)} 1 / log2(i + 1). nDCG@k = DCG@k / IDCG@k.
  This equals scikit-learn's ``ndcg_score`` when the expected sources that were
  not retrieved are appended as relevant items below every retrieved one
  (tests/evals/test_retrieval_metrics.py checks exactly that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from evals.metrics.base import Aggregate, MetricRegistry
from evals.schema import GoldenCase
from gateway.pipeline_types import PipelineResult

DEFAULT_K = 5


def matches(section_id: str, source: str) -> bool:
    return section_id == source or section_id.startswith(source + "/")


def recall_at_k(retrieved: Sequence[str], sources: Sequence[str], k: int) -> float:
    if not sources:
        raise ValueError("recall needs at least one expected source")
    top = retrieved[:k]
    found = sum(1 for source in sources if any(matches(s, source) for s in top))
    return found / len(sources)


def reciprocal_rank(retrieved: Sequence[str], sources: Sequence[str]) -> float:
    for rank, section_id in enumerate(retrieved, start=1):
        if any(matches(section_id, source) for source in sources):
            return 1.0 / rank
    return 0.0


def relevance_at_k(retrieved: Sequence[str], sources: Sequence[str], k: int) -> list[int]:
    """Binary gains of the top-k chunks: 1 for the first chunk to match a new source."""
    covered: set[str] = set()
    gains = []
    for section_id in retrieved[:k]:
        new = {s for s in sources if s not in covered and matches(section_id, s)}
        gains.append(1 if new else 0)
        # A chunk below two expected sources (``a/b`` and ``a/b/c``) covers both.
        covered |= {s for s in sources if matches(section_id, s)}
    return gains


def ndcg_at_k(retrieved: Sequence[str], sources: Sequence[str], k: int) -> float:
    if not sources:
        raise ValueError("nDCG needs at least one expected source")
    dcg = sum(g / math.log2(i + 1) for i, g in enumerate(relevance_at_k(retrieved, sources, k), 1))
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(set(sources)), k) + 1))
    return dcg / ideal


def _section_ids(result: PipelineResult) -> list[str]:
    return [chunk.section_id for chunk in result.retrieved]


@dataclass(frozen=True)
class RecallAtK:
    k: int = DEFAULT_K
    higher_is_better: bool = True
    aggregate: Aggregate = "mean"

    @property
    def name(self) -> str:
        return f"recall_at_{self.k}"

    @property
    def description(self) -> str:
        return f"share of expected sections found in the top {self.k} retrieved chunks"

    def applies(self, case: GoldenCase) -> bool:
        return bool(case.expected_sources)

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        return recall_at_k(_section_ids(result), case.expected_sources, self.k)


@dataclass(frozen=True)
class MeanReciprocalRank:
    name: str = "mrr"
    description: str = "1 / rank of the first retrieved chunk from an expected section"
    higher_is_better: bool = True
    aggregate: Aggregate = "mean"

    def applies(self, case: GoldenCase) -> bool:
        return bool(case.expected_sources)

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        return reciprocal_rank(_section_ids(result), case.expected_sources)


@dataclass(frozen=True)
class NdcgAtK:
    k: int = DEFAULT_K
    higher_is_better: bool = True
    aggregate: Aggregate = "mean"

    @property
    def name(self) -> str:
        return f"ndcg_at_{self.k}"

    @property
    def description(self) -> str:
        return f"nDCG@{self.k}, binary relevance per expected section"

    def applies(self, case: GoldenCase) -> bool:
        return bool(case.expected_sources)

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        return ndcg_at_k(_section_ids(result), case.expected_sources, self.k)


def register(registry: MetricRegistry, k: int = DEFAULT_K) -> None:
    registry.register(RecallAtK(k))
    registry.register(MeanReciprocalRank())
    registry.register(NdcgAtK(k))
