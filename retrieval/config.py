"""Retrieval configuration. ``gateway.settings.Settings`` nests it as ``retrieval``
(environment: ``LADDER_RETRIEVAL__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(5, ge=1, le=50)
    fusion: Literal["rrf", "weighted"] = "weighted"
    rrf_k: int = Field(60, ge=1)
    # Weight of the dense retriever in weighted fusion; BM25 gets 1 - alpha.
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    depth: int = Field(100, ge=1, le=1000, description="Candidates per retriever before fusion")
    chunk_max_tokens: int = Field(320, ge=32, le=2000)
    chunk_min_tokens: int = Field(40, ge=0, le=1000)
    embedding_backend: Literal["onnx", "onnx-int8", "torch"] = "onnx"
    embedding_batch_size: int = Field(64, ge=1, le=1024)
    query_cache_size: int = Field(2048, ge=0)
    faiss_index: Literal["flat", "hnsw"] = "flat"
    min_score: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _chunk_bounds(self) -> RetrievalConfig:
        if self.chunk_min_tokens >= self.chunk_max_tokens:
            raise ValueError("chunk_min_tokens must be smaller than chunk_max_tokens")
        return self
