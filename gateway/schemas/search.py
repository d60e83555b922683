"""POST /v1/search: retrieval only."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(10, ge=1, le=100)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    fusion: Literal["rrf", "weighted"] | None = None
    role: str | list[str] | None = None
    family: str | list[str] | None = None
    level: str | list[str] | None = None
    section: str | list[str] | None = None


class SearchHit(BaseModel):
    rank: int
    chunk_id: str
    role: str
    document: str
    section_id: str
    section_path: str
    kind: str
    text: str
    score: float
    bm25_score: float | None
    dense_score: float | None


class SearchResponse(BaseModel):
    query: str
    mode: str
    fusion: str | None
    index_version: str
    hits: list[SearchHit]
    latency_ms: float
