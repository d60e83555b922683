"""FastAPI dependencies as ``Annotated`` aliases: routes declare what they need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request

from gateway.auth.principal import Principal
from gateway.auth.scopes import Scope
from gateway.auth.service import require_scope
from gateway.orchestrator import Orchestrator
from gateway.services import Services


# Dependencies are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in
# a worker thread, and under load those hops (two or three per request) cost more
# main-thread CPU than the lookups they wrap.
async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def get_orchestrator(request: Request) -> Orchestrator:
    return request.app.state.orchestrator  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]
OrchestratorDep = Annotated[Orchestrator, Depends(get_orchestrator)]


@dataclass(frozen=True)
class RequireScope:
    """Authenticate and require ``scope``. ``metered`` routes spend one request of the key's
    per-minute allowance here; the answer routes are metered by the pipeline instead (it
    knows the token estimate), and catalog reads are cheap lookups left unmetered.

    A value object rather than a closure so the scope each route requires can be read back
    from the app's routes (tests check that every /v1 route declares one)."""

    scope: Scope
    metered: bool = False

    async def __call__(self, request: Request) -> Principal:
        services: Services = request.app.state.services
        header = request.headers.get("authorization")
        # A key verified in the last few seconds is a dict lookup; only a key-store read
        # (SQLite) goes to a worker thread.
        principal = services.auth.cached(header)
        if principal is None:
            principal = await anyio.to_thread.run_sync(services.auth.authenticate, header)
        require_scope(principal, self.scope)
        request.state.key_id = principal.key_id
        if self.metered:
            services.limiter.admit(principal)
        return principal


ChatPrincipal = Annotated[Principal, Depends(RequireScope(Scope.CHAT))]
AnswersPrincipal = Annotated[Principal, Depends(RequireScope(Scope.ANSWERS))]
# Search embeds the query and scores the index: real work per request, so it is metered.
SearchPrincipal = Annotated[Principal, Depends(RequireScope(Scope.SEARCH, metered=True))]
RolesPrincipal = Annotated[Principal, Depends(RequireScope(Scope.ROLES))]
PromptsWritePrincipal = Annotated[Principal, Depends(RequireScope(Scope.PROMPTS_WRITE))]
UsagePrincipal = Annotated[Principal, Depends(RequireScope(Scope.USAGE_READ))]
AdminPrincipal = Annotated[Principal, Depends(RequireScope(Scope.ADMIN))]
