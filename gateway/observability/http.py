"""The HTTP side of observability: the server span, request metrics, the request log line.

Layout of the middleware stack once ``instrument_app`` has run (outermost first)::

    RequestObserver           metrics, log line, x-trace-id header - sees every response
    ServerErrorMiddleware     (OpenTelemetry's safety net)
    OpenTelemetryMiddleware   the server span; honours an incoming W3C traceparent
    ServerErrorMiddleware     the app's 500 handler - runs inside the span, so the
    ...user middleware...     trace id is known when it answers
    router

``RequestObserver`` sits outside the 500 handler on purpose: an unhandled error's
response gets its ``x-trace-id`` and is counted and logged like any other.

With no exporter configured, ``UnsampledServerSpan`` stands where the two middlewares
of OpenTelemetry stand above (see ``instrument_app``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability.context import RequestFacts, close_facts, open_facts
from gateway.observability.logs import BOUNDED
from gateway.observability.metrics import Metrics

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gateway.observability.tracing import Telemetry

log = logging.getLogger("ladder.request")

TRACE_HEADER = b"x-trace-id"
# Probes and scrapes arrive every few seconds: their successful lines are DEBUG, not INFO.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# W3C trace context (the default propagator); baggage is not used by ladder.
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate"})
UNMATCHED = "unmatched"  # the route label of a 404 for an unknown path (bounded cardinality)


def instrument_app(app: FastAPI, telemetry: Telemetry) -> None:
    """Server spans from the app's own tracer provider (never the global one), then the
    request observer around the whole stack.

    Without an exporter no span is recorded (see ``tracing._sampler``), and OpenTelemetry's
    ASGI middleware then only gathers attributes nobody reads - about 5% of the
    server's per-request CPU under load. ``UnsampledServerSpan`` takes its place: it
    continues a caller's ``traceparent`` or starts a trace, so ids still reach responses,
    logs and the ledger."""
    if telemetry.exporter is None:
        build_plain = app.build_middleware_stack

        def build_unsampled() -> ASGIApp:
            return RequestObserver(UnsampledServerSpan(build_plain(), telemetry.tracer), telemetry.metrics)

        app.build_middleware_stack = build_unsampled  # type: ignore[method-assign]
        return
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=telemetry.provider,
        meter_provider=NoOpMeterProvider(),  # request metrics are ours, in Prometheus
        excluded_urls="",  # trace everything; do not read OTEL_* exclusions from the env
        exclude_spans=["receive", "send"],  # one span per ASGI message is noise
    )
    build_instrumented = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return RequestObserver(build_instrumented(), telemetry.metrics)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def route_template(scope: Scope, fallback: str | None = None) -> str:
    """``/v1/roles/{slug}``, not ``/v1/roles/staff-ai``: labels and logs stay bounded.

    The router records the route it chose; for a request answered before routing (a
    413 from the body limit) ``fallback`` is the route the server span matched."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    return fallback or UNMATCHED


class UnsampledServerSpan:
    """Pure ASGI middleware: the request's server span when nothing is exported.

    Sits where OpenTelemetry's middleware would (around the app's 500 handler, so an
    error response knows its trace id). The span is never recorded, so it carries no
    attributes; the request observer takes the route from the router instead."""

    def __init__(self, app: ASGIApp, tracer: trace.Tracer) -> None:
        self._app = app
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _PROPAGATION_HEADERS
        }
        parent = propagate.extract(carrier) if carrier else None
        with self._tracer.start_as_current_span(
            "HTTP", context=parent, kind=trace.SpanKind.SERVER,
            record_exception=False, set_status_on_exception=False,
        ):
            await self._app(scope, receive, send)


class RequestObserver:
    """Pure ASGI middleware: request count and latency, one log line, ``x-trace-id``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        facts, token = open_facts()
        started = time.perf_counter()
        status = 500  # what the client gets if the app dies before answering

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                # Called from inside the server span's context (see the module docstring).
                span = trace.get_current_span()
                route = (getattr(span, "attributes", None) or {}).get("http.route")
                facts.route = route if isinstance(route, str) else None
                context = span.get_span_context()
                if context.is_valid:
                    facts.trace_id = format(context.trace_id, "032x")
                    headers = [*message.get("headers", []), (TRACE_HEADER, facts.trace_id.encode())]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self._app(scope, receive, observed_send)
        finally:
            close_facts(token)
            self._record(scope, facts, status, time.perf_counter() - started)

    def _record(self, scope: Scope, facts: RequestFacts, status: int, seconds: float) -> None:
        route = route_template(scope, facts.route)
        model, provider = facts.model or "none", facts.provider or "none"
        labels = (route, model, provider, str(status))
        self._metrics.requests.labels(*labels).inc()
        self._metrics.request_latency.labels(*labels).observe(seconds)
        if status >= 400:
            outcome = "error"
        else:
            outcome = facts.outcome or "ok"
        state: dict[str, Any] = scope.get("state") or {}
        fields = {
            "key_id": facts.key_id or state.get("key_id"),
            "route": route,
            "method": scope.get("method"),
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
            "outcome": outcome,
            "model": facts.model,
            "provider": facts.provider,
            "prompt_version": facts.prompt_version,
            "cache_hit": facts.cache_hit,
        }
        if status >= 500:
            level = logging.ERROR
        elif route in _QUIET_ROUTES and status < 400:
            level = logging.DEBUG
        else:
            level = logging.INFO
        log.log(level, "%s %s %d", fields["method"], route, status,
                extra={"fields": fields, "trace_id": facts.trace_id, BOUNDED: True})
