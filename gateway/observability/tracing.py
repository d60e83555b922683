"""OpenTelemetry set-up and the one helper the pipeline uses: ``stage()``.

Each pipeline stage is one span (named ``ladder.<stage>``) and one observation
of the stage-latency histogram, so traces and metrics always agree on what a
stage is. Attribute names follow the OpenTelemetry GenAI semantic conventions
(``gen_ai.*``); ladder's own live under ``ladder.*``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from gateway.observability.metrics import Metrics
from gateway.settings import TelemetrySettings


def _exporter(settings: TelemetrySettings) -> SpanExporter | None:
    if settings.exporter == "none":
        return None
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    if settings.exporter == "memory":
        return InMemorySpanExporter()
    if settings.exporter == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint) if settings.otlp_endpoint else OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=settings.otlp_endpoint) if settings.otlp_endpoint else HttpExporter()


class Telemetry:
    """Owns the tracer provider of one app instance (not the global one, so tests can
    run several apps side by side and read each one's spans)."""

    def __init__(self, settings: TelemetrySettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.capture_content = settings.capture_content
        self.exporter = _exporter(settings)
        self.provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        if self.exporter is not None:
            processor = (
                SimpleSpanProcessor(self.exporter)
                if isinstance(self.exporter, InMemorySpanExporter)
                else BatchSpanProcessor(self.exporter)
            )
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("ladder")

    @contextmanager
    def stage(self, name: str, **attributes: Any) -> Iterator[Span]:
        started = time.perf_counter()
        with self.tracer.start_as_current_span(f"ladder.{name}") as span:
            for key, value in attributes.items():
                if value is not None:
                    span.set_attribute(key, value)
            try:
                yield span
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                self.metrics.stage_latency.labels(stage=name).observe(time.perf_counter() - started)

    def shutdown(self) -> None:
        self.provider.shutdown()


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
