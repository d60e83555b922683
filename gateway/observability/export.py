"""Span exporters, chosen by ``settings.telemetry.exporter``, behind one scrubbing wrapper.

ladder's own spans carry no free text unless content capture is on (and then
scrubbed at the source). What it does not control is error detail: the HTTP
instrumentation records an unhandled exception's message and stack trace,
which can quote request text. ``ScrubbingExporter`` passes every span through
and rewrites only that - exception events and error-status descriptions -
with the same scrubber the logs use, just before spans leave the process.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status

from gateway.observability.redaction import LOG_PII_TYPES, scrub
from gateway.settings import TelemetrySettings

_ERROR_TEXT = ("exception.message", "exception.stacktrace")


def make_exporter(settings: TelemetrySettings) -> SpanExporter | None:
    if settings.exporter == "none":
        return None
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    if settings.exporter == "memory":
        return InMemorySpanExporter()
    if settings.exporter == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint) if settings.otlp_endpoint else OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=settings.otlp_endpoint) if settings.otlp_endpoint else HttpExporter()


class ScrubbingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, secrets: tuple[str, ...] = ()) -> None:
        self.inner = inner
        self.secrets = secrets

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self._clean(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def _text(self, text: str) -> str:
        return scrub(text, self.secrets, LOG_PII_TYPES)

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        described = span.status.description
        if not described and not any(e.name == "exception" for e in span.events):
            return span  # the common case: nothing to rewrite, no copy
        events = [
            Event(
                e.name,
                {k: self._text(v) if k in _ERROR_TEXT and isinstance(v, str) else v
                 for k, v in (e.attributes or {}).items()},
                e.timestamp,
            )
            for e in span.events
        ]
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=span.attributes, events=events, links=span.links, kind=span.kind,
            status=Status(span.status.status_code, self._text(described) if described else None),
            start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
