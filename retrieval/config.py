"""Retrieval configuration. ``gateway.settings.Settings`` nests it as ``retrieval``
(environment: ``LADDER_RETRIEVAL__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrieval.fusion import MissingScore, Normalization


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(5, ge=1, le=50)
    # Fusion defaults come from tuning on the SciFact TRAIN queries only (809; the 300 test
    # queries never chose anything): bench/bench_scifact.py, results and notes in
    # bench/results/retrieval.md. With passages embedded to 512 word pieces, min-max at
    # alpha 0.5, depth 300 scores 0.7346 nDCG@10 on train. The best train cell,
    # theoretical min-max with exact scores at alpha 0.85 (0.7386; paired bootstrap CI of
    # the difference [-0.0014, +0.0095], so inside train noise), is NOT the default: it
    # squeezes fused scores towards 1, and the extractive provider's relevance cut-offs
    # read that scale - a KPI question then also quotes a neighbouring KPI row
    # (tests/gateway/test_extractive.py, "monitoring coverage") - and on the blueprint
    # golden set Recall@5 fell 0.955 -> 0.953 and refusal accuracy 0.972 -> 0.968. (With
    # 256-token passages that family, at alpha 0.8, had failed the release gate outright.)
    # rrf_k stays at the paper's 60 (robust across collections; k=10 scored higher on
    # SciFact train) for callers who pick RRF.
    fusion: Literal["rrf", "weighted"] = "weighted"
    rrf_k: int = Field(60, ge=1)
    # Weight of the dense retriever in weighted fusion; BM25 gets 1 - alpha. It weighs
    # normalized scores, so its best value depends on ``normalization`` (theoretical
    # min-max squeezes cosines into a narrow band near 1 and wants about 0.8).
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    # How weighted fusion puts BM25 and cosine on one scale (retrieval/fusion.py):
    # "min_max" per list, "theoretical" (retriever's lowest possible score -> 0, list
    # best -> 1), "dbsf" (mean -/+ 3 std -> 0/1).
    normalization: Normalization = "min_max"
    # A candidate only one retriever returned: "floor" = 0 from the other, "exact" = the
    # other retriever's real score for it, normalized the same way.
    missing_score: MissingScore = "floor"
    depth: int = Field(300, ge=1, le=1000, description="Candidates per retriever before fusion")
    # Per-retriever overrides of ``depth`` (None = use ``depth``).
    bm25_depth: int | None = Field(None, ge=1, le=1000)
    dense_depth: int | None = Field(None, ge=1, le=1000)
    # BM25 Okapi parameters; the defaults are rank_bm25's, so scores can be checked against it.
    bm25_k1: float = Field(1.5, gt=0.0)
    bm25_b: float = Field(0.75, ge=0.0, le=1.0)
    bm25_epsilon: float = Field(0.25, ge=0.0)
    # Extra copies of a chunk's own section heading in its BM25 text (which holds the whole
    # path once already): a field weight in the manner of BM25F. A long list under a plain
    # heading ("Internal stakeholders", "Must-have technical skills") otherwise loses to a
    # one-line section that shares a word with the question, through length normalization.
    # 2 was set before measuring, as a common title weight; golden set, same corpus: Recall@5
    # 0.959 -> 0.963, MRR 0.912 -> 0.926, 2 more cases pass, none fewer (not tuned on it).
    bm25_heading_repeat: int = Field(2, ge=0, le=10)
    chunk_max_tokens: int = Field(320, ge=32, le=2000)
    chunk_min_tokens: int = Field(40, ge=0, le=1000)
    embedding_backend: Literal["onnx", "onnx-int8", "torch"] = "onnx"
    embedding_batch_size: int = Field(64, ge=1, le=1024)
    # Wordpieces of a chunk the embedder reads at index time (queries keep the model's
    # 256). A 320-tiktoken chunk can exceed 256 wordpieces, whose tail the model would
    # otherwise never see; 512 is MiniLM's position limit. Chosen on SciFact TRAIN:
    # hybrid nDCG@10 0.7321 at 256 -> 0.7346 at 512 (dense alone 0.6602 -> 0.6593).
    embedding_passage_max_tokens: int = Field(512, ge=16, le=512)
    query_cache_size: int = Field(2048, ge=0)
    # ONNX Runtime threads per embedding call. None: the cores this process may use, at
    # most 2 (bench/results/embedding.md); the gateway divides them among its workers,
    # since two sessions each spreading over both cores only contend.
    embedding_threads: int | None = Field(None, ge=1, le=64)
    faiss_index: Literal["flat", "hnsw"] = "flat"
    # HNSW graph parameters (only used when faiss_index == "hnsw").
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(100, ge=8, le=2000)
    hnsw_ef_search: int = Field(128, ge=8, le=4096)
    # OpenMP threads for one faiss search (1 is fastest per query; see retrieval/dense.py).
    faiss_threads: int = Field(1, ge=1, le=64)
    # Complete index versions kept on disk; older ones are pruned after a build.
    keep_versions: int = Field(3, ge=1, le=100)
    min_score: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _chunk_bounds(self) -> RetrievalConfig:
        if self.chunk_min_tokens >= self.chunk_max_tokens:
            raise ValueError("chunk_min_tokens must be smaller than chunk_max_tokens")
        return self

    @property
    def bm25_candidates(self) -> int:
        return self.bm25_depth or self.depth

    @property
    def dense_candidates(self) -> int:
        return self.dense_depth or self.depth
