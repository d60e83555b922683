"""The scope every gateway route requires, declared once for the unit and HTTP tests.

``ROUTE_SCOPES`` is the declaration; ``served_route_scopes()`` reads the same thing
back from the routers the app includes (each protected route depends on a
``gateway.deps.RequireScope``), and the tests compare the two - so a new route that
declares no scope, or a changed one, fails until this table says so.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from gateway.auth.scopes import Scope
from gateway.deps import RequireScope

# "METHOD /path" -> required scope; None: public.
ROUTE_SCOPES: dict[str, Scope | None] = {
    "POST /v1/chat/completions": Scope.CHAT,
    "GET /v1/models": Scope.CHAT,
    "POST /v1/feedback": Scope.CHAT,
    "POST /v1/answers": Scope.ANSWERS,
    "POST /v1/search": Scope.SEARCH,
    "GET /v1/roles": Scope.ROLES,
    "GET /v1/roles/{slug}": Scope.ROLES,
    "GET /v1/roles/{slug}/kpis": Scope.ROLES,
    "GET /v1/roles/{slug}/tools": Scope.ROLES,
    "GET /v1/roles/{slug}/scorecard": Scope.ROLES,
    "GET /v1/prompts": Scope.ROLES,
    "GET /v1/prompts/{name}": Scope.ROLES,
    "GET /v1/prompts/{name}/versions/{version}": Scope.ROLES,
    "POST /v1/prompts/{name}/labels/{label}": Scope.PROMPTS_WRITE,
    "GET /v1/usage": Scope.USAGE_READ,
    "POST /v1/admin/reload": Scope.ADMIN,
    # Probes, the scrape target and the chat page are public by design.
    "GET /healthz": None,
    "GET /readyz": None,
    "GET /metrics": None,
    "GET /": None,
    "GET /static/{name}": None,
}
PROTECTED = {route: scope for route, scope in ROUTE_SCOPES.items() if scope is not None}


def _scope_requirements(dependant: Any) -> list[RequireScope]:
    found = [dependant.call] if isinstance(dependant.call, RequireScope) else []
    for sub in dependant.dependencies:
        found.extend(_scope_requirements(sub))
    return found


def served_route_scopes() -> dict[str, Scope | None]:
    """``"METHOD /path" -> required scope`` read from the routers the app includes."""
    from gateway.app import ROUTERS

    served: dict[str, Scope | None] = {}
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            requirements = {r.scope for r in _scope_requirements(route.dependant)}
            assert len(requirements) <= 1, (route.path, requirements)
            for method in route.methods:
                served[f"{method} {route.path}"] = next(iter(requirements), None)
    return served
