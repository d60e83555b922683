"""BM25 scores must equal rank_bm25.BM25Okapi's on the same tokenized corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.analyzer import Analyzer
from retrieval.chunking import chunk_blueprints
from retrieval.documents import Blueprint
from retrieval.sparse import BM25Index, BM25Params

QUERIES = [
    "inference availability target",
    "p95 latency 200ms",
    "99.9% uptime of the AI endpoint",
    "30-day goals onboarding",
    "mentoring engineers design reviews",
    "cost per request token spend",
    "the of and",  # only stop words: every score is 0
    "retrieval retrieval reranking",  # a repeated term counts twice in rank_bm25
    "zzzz-unknown-term kubernetes",
]


def _assert_same(corpus: list[list[str]], queries: list[list[str]], params: BM25Params) -> None:
    reference = BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    ours = BM25Index.from_tokens(corpus, params)
    for query in queries:
        expected = reference.get_scores(query)
        got, matched = ours.scores(query)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=f"query {query}")
        has_term = np.array([bool(set(query) & set(doc)) for doc in corpus])
        assert (matched == has_term).all()


def test_blueprint_corpus_matches_rank_bm25(corpus_blueprints: list[Blueprint]) -> None:
    analyzer = Analyzer()
    corpus = [analyzer(c.indexed_text) for c in chunk_blueprints(corpus_blueprints)]
    assert len(corpus) > 100
    _assert_same(corpus, [analyzer(q) for q in QUERIES], BM25Params())


def test_scifact_sample_matches_rank_bm25(shared_dir: Path) -> None:
    analyzer = Analyzer()
    root = shared_dir / "datasets" / "beir-scifact"
    with (root / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for _, line in zip(range(600), handle, strict=False)]
    with (root / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for _, line in zip(range(40), handle, strict=False)]
    corpus = [analyzer(f"{d['title']} {d['text']}") for d in docs]
    _assert_same(corpus, [analyzer(q) for q in queries], BM25Params())
    # Non-default parameters go through the same formula.
    _assert_same(
        corpus, [analyzer(q) for q in queries[:10]], BM25Params(k1=0.9, b=0.4, epsilon=0.1)
    )


def test_negative_idf_floor_matches_rank_bm25() -> None:
    # "common" is in 3 of 4 documents: its raw idf is negative and rank_bm25 floors it.
    corpus = [["common", "a"], ["common", "b"], ["common", "c", "c"], ["d"]]
    _assert_same(corpus, [["common"], ["common", "c"], ["d", "a"]], BM25Params())


def test_top_respects_mask_and_depth(corpus_blueprints: list[Blueprint]) -> None:
    analyzer = Analyzer()
    corpus = [analyzer(c.indexed_text) for c in chunk_blueprints(corpus_blueprints)]
    index = BM25Index.from_tokens(corpus)
    query = analyzer("inference latency availability")
    ids, scores, all_scores = index.top(query, depth=10)
    assert len(ids) == 10
    assert (np.diff(scores) <= 0).all()
    assert np.array_equal(np.sort(all_scores)[::-1][:10], scores)
    allowed = np.zeros(index.n_docs, dtype=bool)
    allowed[::2] = True
    masked, _, _ = index.top(query, depth=1000, allowed=allowed)
    assert masked.size and (masked % 2 == 0).all()
    assert index.top(analyzer("the of"), depth=5)[0].size == 0


def test_shape_mismatch_is_refused() -> None:
    good = BM25Index.from_tokens([["a"], ["b"]])
    with pytest.raises(ValueError, match="shape"):
        BM25Index([*good.vocab, "extra"], good.tf, good.doc_len)
