"""Prometheus scrape endpoint. Unauthenticated like any scrape target: every label value
comes from a bounded set (routes, models, guards), never a key or request text."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.deps import ServicesDep
from gateway.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics (text exposition format)", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE)
