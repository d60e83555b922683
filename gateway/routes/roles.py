from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.deps import RolesPrincipal, ServicesDep
from gateway.schemas.common import ErrorResponse

router = APIRouter(tags=["roles"])
_404 = {404: {"model": ErrorResponse}}


@router.get("/v1/roles", summary="Every role blueprint in the served index")
async def list_roles(services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    catalog = services.snapshot.catalog
    return {"object": "list", "index_version": services.snapshot.version, "data": catalog.summaries()}


@router.get("/v1/roles/{slug}", responses=_404, summary="One role: sections, goals, career path, experience")
async def get_role(slug: str, services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    return services.snapshot.catalog.detail(slug)


@router.get("/v1/roles/{slug}/kpis", responses=_404, summary="The KPI table as rows with targets and frequencies")
async def get_kpis(slug: str, services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    catalog = services.snapshot.catalog
    role = catalog.get(slug)
    rows = catalog.kpis(slug)
    return {"object": "list", "role": slug, "title": role.role, "count": len(rows), "data": rows}


@router.get("/v1/roles/{slug}/tools", responses=_404, summary="Tools table rows with adoption status")
async def get_tools(slug: str, services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    rows = services.snapshot.catalog.tools(slug)
    return {"object": "list", "role": slug, "count": len(rows), "data": rows}


@router.get("/v1/roles/{slug}/scorecard", responses=_404, summary="Interview scorecard dimensions and weights")
async def get_scorecard(slug: str, services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    rows = services.snapshot.catalog.scorecard(slug)
    return {"object": "list", "role": slug, "count": len(rows), "data": rows}
