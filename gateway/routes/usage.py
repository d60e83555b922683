from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query

from gateway.deps import ServicesDep, UsagePrincipal
from gateway.errors import RequestError
from gateway.schemas.common import ErrorResponse
from gateway.usage.reports import parse_when

router = APIRouter(tags=["usage"])


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise RequestError(str(exc), code="invalid_time", param=name) from exc


@router.get("/v1/usage", responses={400: {"model": ErrorResponse}},
            summary="Requests, tokens, cost, latency percentiles, refusal and cache-hit rates")
async def usage(
    services: ServicesDep,
    principal: UsagePrincipal,
    group_by: Literal["key", "model", "prompt_version", "day"] = "key",
    since: str | None = Query(None, description="YYYY-MM-DD, ISO date-time, 'today' or an age like 7d"),
    until: str | None = Query(None, description="Same formats as since"),
) -> dict[str, Any]:
    start, end = _when(since, "since"), _when(until, "until")
    if start and end and start > end:
        raise RequestError("since must not be after until", code="invalid_time", param="since")
    # Non-admin callers see their own key's usage only.
    key_id = None if principal.can("admin") else principal.key_id
    rows = await anyio.to_thread.run_sync(
        lambda: services.ledger.usage_report(group_by, start, end, key_id=key_id)
    )
    cache = services.cache.stats()
    return {
        "object": "list", "group_by": group_by,
        "since": start.isoformat() if start else None, "until": end.isoformat() if end else None,
        "data": [r.model_dump() for r in rows],
        "response_cache": {"hits": cache.hits, "misses": cache.misses, "hit_rate": cache.hit_rate,
                           "entries": cache.entries},
    }
