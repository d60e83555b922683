"""The FastAPI application: lifespan, middleware, error handlers, routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http_errors import error_response, install_error_handlers
from gateway.observability.http import instrument_app
from gateway.observability.setup import observe_services
from gateway.orchestrator import Orchestrator
from gateway.routes import (
    admin,
    answers,
    chat,
    feedback,
    health,
    metrics,
    models,
    prompts,
    roles,
    search,
    usage,
    web,
)
from gateway.services import Services
from gateway.settings import Settings, load_settings

log = logging.getLogger("ladder.app")

# Every router the app serves. Public so tests can walk the routes and check that each
# /v1 route declares the scope it requires.
ROUTERS = tuple(
    module.router
    for module in (answers, chat, models, search, roles, prompts, usage, feedback, health, metrics, admin, web)
)


class BodyLimit:
    """Pure ASGI middleware: refuse bodies over the limit with a JSON 413, before they are
    buffered. Checks Content-Length up front and counts chunked bodies as they arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"").decode() or None
        if length is not None and length.isdigit() and int(length) > self._max:
            await self._reject(scope, receive, send, int(length))
            return
        seen = 0
        too_large: int | None = None
        response = "none"  # -> "app" (the app's response is going out) or "rejected" (our 413)

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max:
                    too_large = seen
                    raise _TooLarge(seen)
            return message

        async def guarded_send(message: Message) -> None:
            # Frameworks catch exceptions raised while they read the body (FastAPI turns
            # them into "400 error parsing the body"), so the 413 cannot rely on _TooLarge
            # reaching us: once the body went over the limit, whatever the app answers
            # before it started a response is replaced by the 413.
            nonlocal response
            if response == "rejected":
                return
            if too_large is not None and response == "none":
                response = "rejected"
                await self._reject(scope, receive, send, too_large)
                return
            if message["type"] == "http.response.start":
                response = "app"
            await send(message)

        try:
            await self._app(scope, counted, guarded_send)
        except _TooLarge as exc:
            if response == "app":
                raise  # too late for a 413: the app's response has begun
            if response == "none":
                await self._reject(scope, receive, send, exc.size)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = error_response(
            413, f"request body of {size} bytes exceeds the limit of {self._max} bytes",
            "invalid_request_error", "request_too_large",
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    settings = settings or load_settings()
    # Built here, not in the lifespan (the constructor is cheap; start() loads): the
    # tracing middleware needs the app's tracer provider when the stack is assembled.
    svc = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        observe_services(svc)  # after the server's own logging set-up, so ours wins
        await svc.start()
        if svc.supervisor_pid is not None:
            # A worker forked after a reindex starts from the parent's older snapshot.
            await svc.reload_index(only_if_newer=True)
            svc.listen_for_reload()
        app.state.services = svc
        app.state.orchestrator = Orchestrator(svc)
        try:
            yield
        finally:
            await svc.close()

    app = FastAPI(
        title="ladder",
        summary="Grounded answers about job-role blueprints: KPIs, skills, goals and career paths.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    instrument_app(app, svc.telemetry)
    return app
