from __future__ import annotations

import time

from fastapi import APIRouter

from gateway.deps import SearchPrincipal, ServicesDep
from gateway.schemas.common import ErrorResponse
from gateway.schemas.search import SearchHit, SearchRequest, SearchResponse
from retrieval.searcher import Hit

router = APIRouter(tags=["retrieval"])
_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 429)}


@router.post("/v1/search", response_model=SearchResponse, responses=_ERRORS,
             summary="Retrieval only: ranked chunks with their BM25, dense and fused scores")
async def search(body: SearchRequest, services: ServicesDep, principal: SearchPrincipal) -> SearchResponse:
    started = time.perf_counter()
    snapshot = services.snapshot
    filters = {k: v for k, v in body.model_dump(include={"role", "family", "level", "section"}).items() if v}
    # A mistyped role slug must not read as "no matches": unknown roles are a 404, as in /v1/answers.
    for slug in [body.role] if isinstance(body.role, str) else body.role or []:
        snapshot.catalog.get(slug)
    vector = None
    if body.mode != "bm25" and body.query.strip():  # a blank query is the searcher's 400
        vector = (await services.embed([body.query]))[0]

    def search() -> list[Hit]:
        return snapshot.searcher.search(body.query, k=body.k, mode=body.mode, fusion=body.fusion,
                                        filters=filters or None, query_vector=vector)

    hits = search() if services.search_inline(snapshot) else await services.run_model(search)
    return SearchResponse(
        query=body.query, mode=body.mode,
        fusion=(body.fusion or services.settings.retrieval.fusion) if body.mode == "hybrid" else None,
        index_version=snapshot.version,
        hits=[
            SearchHit(
                rank=i + 1, chunk_id=h.chunk.id, role=h.chunk.doc_slug, document=h.chunk.doc_title,
                section_id=h.chunk.section_id, section_path=h.chunk.path_text, kind=h.chunk.kind,
                text=h.chunk.text, score=float(h.score), bm25_score=h.bm25_score, dense_score=h.dense_score,
            )
            for i, h in enumerate(hits)
        ],
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )
