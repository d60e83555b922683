from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import AdminPrincipal, ServicesDep

router = APIRouter(tags=["operations"])


@router.post("/v1/admin/reload", summary="Swap to the newest complete index without downtime")
async def reload_index(services: ServicesDep, principal: AdminPrincipal) -> dict[str, object]:
    old, new = await services.reload_index()
    # Under `ladder serve --workers N` this answer comes from one worker; the parent then
    # has every worker load the newest index (each within a second or so).
    relayed = services.announce_reload()
    return {"previous_version": old, "version": new, "changed": old != new,
            "chunks": services.snapshot.index.size, "all_workers": relayed}
