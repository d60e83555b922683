"""Filters are applied before fusion to both retrievers: excluded chunks never come back."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from retrieval.chunking import Chunk
from retrieval.filters import SearchFilters
from retrieval.index import LoadedIndex
from retrieval.searcher import HybridSearcher

QUERIES = [
    "inference availability",
    "30-day goals",
    "mentoring engineers",
    "p95 latency target",
    "stakeholders and collaboration",
    "what is it about",
]
MODES = [("hybrid", "rrf"), ("hybrid", "weighted"), ("bm25", None), ("dense", None)]


def _allowed(chunk: Chunk, filters: SearchFilters) -> bool:
    relative = chunk.section_id.split("/", 1)[1] if "/" in chunk.section_id else chunk.section_id
    return (
        (not filters.role or chunk.doc_slug in filters.role)
        and (not filters.family or chunk.metadata["family"] in filters.family)
        and (not filters.level or chunk.metadata["level"] in filters.level)
        and (
            not filters.section
            or any(
                chunk.section_id.startswith(p) or relative.startswith(p) for p in filters.section
            )
        )
    )


@pytest.fixture(scope="module")
def vectors(corpus_searcher: HybridSearcher) -> dict[str, np.ndarray]:
    return {q: corpus_searcher.embed_query(q) for q in QUERIES}


def _filter_cases(index: LoadedIndex) -> list[dict[str, object]]:
    slugs = sorted({c.doc_slug for c in index.chunks})
    families = sorted({c.metadata["family"] for c in index.chunks})
    levels = sorted({c.metadata["level"] for c in index.chunks})
    return [
        {"role": slugs[0]},
        {"role": slugs[-2:]},
        {"family": families[0]},
        {"level": levels[0]},
        {"level": "staff", "section": "kpis-and-productivity-metrics"},
        {"section": f"{slugs[0]}/goals-objectives-and-milestones"},
        {"role": "STAFF-APPLIED-AI-ENGINEER", "section": "technical-skills"},
    ]


def test_filtered_out_chunks_never_appear(
    corpus_searcher: HybridSearcher, vectors: dict[str, np.ndarray]
) -> None:
    index = corpus_searcher.index
    for raw, query, (mode, fusion) in itertools.product(_filter_cases(index), QUERIES, MODES):
        filters = SearchFilters.parse(raw)
        assert filters is not None
        allowed_ids = {c.id for c in index.chunks if _allowed(c, filters)}
        assert allowed_ids, raw
        hits = corpus_searcher.search(
            query,
            k=50,
            mode=mode,
            fusion=fusion,
            filters=filters,
            query_vector=vectors[query],  # type: ignore[arg-type]
        )
        leaked = [h.chunk.id for h in hits if h.chunk.id not in allowed_ids]
        assert not leaked, (raw, query, mode, fusion)
        if mode != "bm25":
            assert hits, (raw, query, mode)  # dense always has candidates in a non-empty subset


def test_unfiltered_winner_is_removed_by_a_filter(
    corpus_searcher: HybridSearcher, vectors: dict[str, np.ndarray]
) -> None:
    query = "inference availability"
    winner = corpus_searcher.search(query, k=1, query_vector=vectors[query])[0].chunk
    other_roles = sorted({c.doc_slug for c in corpus_searcher.index.chunks} - {winner.doc_slug})
    for mode, fusion in MODES:
        hits = corpus_searcher.search(
            query,
            k=1000,
            mode=mode,
            fusion=fusion,
            filters={"role": other_roles},  # type: ignore[arg-type]
            query_vector=vectors[query],
        )
        assert winner.id not in {h.chunk.id for h in hits}
        assert all(h.chunk.doc_slug != winner.doc_slug for h in hits)


def test_unknown_values_give_no_hits_not_errors(corpus_searcher: HybridSearcher) -> None:
    for raw in (
        {"role": "no-such-role"},
        {"family": "astronomy"},
        {"level": "emperor"},
        {"section": "no/such"},
    ):
        assert corpus_searcher.search("inference availability", k=5, filters=raw) == []


def test_mask_semantics(corpus_index: LoadedIndex) -> None:
    assert corpus_index.filters.mask(None) is None
    assert corpus_index.filters.mask(SearchFilters()) is None
    filters = SearchFilters.parse(
        {"role": "staff-applied-ai-engineer", "section": "staff-applied-ai-engineer/kpis"}
    )
    mask = corpus_index.filters.mask(filters)
    assert mask is not None
    chosen = [c for c, keep in zip(corpus_index.chunks, mask, strict=True) if keep]
    assert chosen and all(c.section_id.endswith("kpis-and-productivity-metrics") for c in chosen)
    assert all(c.doc_slug == "staff-applied-ai-engineer" for c in chosen)
