"""OpenTelemetry set-up and the helpers the pipeline uses: ``stage()`` and friends.

Each pipeline stage is one span (named ``ladder.<stage>``) and one observation
of the stage-latency histogram, so traces and metrics always agree on what a
stage is. Sub-steps that run inside another component (each guard, BM25 /
dense / fusion) are measured there and recorded here as child spans with
their measured start and end times. Attribute names follow the OpenTelemetry
GenAI semantic conventions (``gen_ai.*``); ladder's own live under ``ladder.*``
(see gateway/observability/README.md).

Content (prompts, documents, answers) is recorded only when
``settings.telemetry.capture_content`` is on, and only through ``capture()``,
which scrubs credentials and PII first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Span, Status, StatusCode

from gateway.observability.context import current_facts
from gateway.observability.export import ScrubbingExporter, make_exporter
from gateway.observability.metrics import Metrics
from gateway.observability.redaction import scrub
from gateway.settings import TelemetrySettings

if TYPE_CHECKING:
    from gateway.pipeline_types import PipelineResult
    from guardrails.base import Verdict

# Guard actions that end a request (the rest allow, rewrite or only record).
_STOPPING_ACTIONS = frozenset({"block", "refuse"})


def _sampler(settings: TelemetrySettings, *, exporting: bool) -> Sampler:
    """Without an exporter no span is ever read, so none is recorded: ~18 spans per
    request cost ~10% of the server's GIL time under load (py-spy). Ids are still made,
    so responses, logs and ledger rows carry a trace id and traceparent propagates."""
    if not exporting:
        return ALWAYS_OFF
    return ParentBased(TraceIdRatioBased(settings.sample_ratio))


class Telemetry:
    """Owns the tracer provider of one app instance (not the global one, so tests can
    run several apps side by side and read each one's spans)."""

    def __init__(self, settings: TelemetrySettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.capture_content = settings.capture_content
        self.secrets: tuple[str, ...] = ()
        self.exporter = make_exporter(settings)  # tests read spans from it ("memory")
        self._scrubber = ScrubbingExporter(self.exporter) if self.exporter is not None else None
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            sampler=_sampler(settings, exporting=self.exporter is not None),
        )
        if self._scrubber is not None:
            processor = (
                SimpleSpanProcessor(self._scrubber)
                if isinstance(self.exporter, InMemorySpanExporter)
                else BatchSpanProcessor(self._scrubber)
            )
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("ladder")

    def set_secrets(self, secrets: Sequence[str]) -> None:
        """Configured credentials (e.g. the upstream API key) to scrub from anything
        exported; the app passes ``Services.secrets()`` at start-up."""
        self.secrets = tuple(s for s in secrets if s)
        if self._scrubber is not None:
            self._scrubber.secrets = self.secrets

    # -- stages ------------------------------------------------------------------------------
    @contextmanager
    def stage(self, name: str, **attributes: Any) -> Iterator[Span]:
        started = time.perf_counter()
        # The exception's type only: its message may quote request text.
        with self.tracer.start_as_current_span(
            f"ladder.{name}", record_exception=False, set_status_on_exception=False
        ) as span:
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

    def step(self, name: str, start_ns: int, end_ns: int, **attributes: Any) -> None:
        """A finished sub-step measured elsewhere, as a child of the current span."""
        if not trace.get_current_span().is_recording():
            # An unsampled parent's children are never recorded either (ParentBased, or
            # ALWAYS_OFF without an exporter): skip making ~15 dead spans per request.
            return
        span = self.tracer.start_span(
            f"ladder.{name}", start_time=start_ns,
            attributes={k: v for k, v in attributes.items() if v is not None},
        )
        span.end(end_time=max(start_ns, end_ns))

    def guards(
        self, span: Span, verdicts: Sequence[Verdict], started_ns: int, *, embedding_ms: float | None = None
    ) -> None:
        """One child span per guard under the guard stage ``span``, plus the stage summary.

        The guard pipeline reports each guard's duration, not its start; guards run one
        after another, so children are laid out back to back from ``started_ns``. Each
        duration is exact; the gaps between them (the shared query embedding, reported as
        ``ladder.guards.embedding_ms``) are not placed."""
        cursor = started_ns
        recording = span.is_recording()
        for verdict in verdicts:
            end = cursor + int(verdict.latency_ms * 1_000_000)
            if recording:
                self.step(
                    f"guard.{verdict.guard}", cursor, end,
                    **{
                        "ladder.guard.name": verdict.guard,
                        "ladder.guard.stage": verdict.stage,
                        "ladder.guard.triggered": verdict.triggered,
                        "ladder.guard.action": verdict.action,
                        "ladder.guard.score": verdict.score,
                        "ladder.guard.threshold": verdict.threshold,
                        # Rule ids and counts only (guards never put user text in reasons).
                        "ladder.guard.reasons": list(verdict.reasons) or None,
                    },
                )
            self.metrics.guard_latency.labels(verdict.guard, verdict.stage).observe(verdict.latency_ms / 1000)
            cursor = end
        triggered = [v.guard for v in verdicts if v.triggered]
        stopped = next((v for v in verdicts if v.triggered and v.action in _STOPPING_ACTIONS), None)
        span.set_attribute("ladder.guards.triggered", triggered)
        span.set_attribute("ladder.guards.decision", stopped.action if stopped else "allow")
        if embedding_ms:
            span.set_attribute("ladder.guards.embedding_ms", embedding_ms)

    # -- content -----------------------------------------------------------------------------
    def capture(self, span: Span, key: str, value: Any) -> None:
        """Record prompt/document/answer content on ``span`` - only when capture_content is
        on, and only after scrubbing credentials and PII. Lists and dicts go in as JSON."""
        if not self.capture_content or value is None:
            return
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        span.set_attribute(key, scrub(text, self.secrets))

    # -- the request as a whole --------------------------------------------------------------
    def record_result(self, result: PipelineResult, *, route: str, key_id: str | None) -> None:
        """Everything a finished pipeline run contributes to metrics, to the request span
        and to the request's log line. Called once per run, cached and refused ones too."""
        m = self.metrics
        prompt = f"{result.prompt.name}@{result.prompt.version}"
        cost = 0.0 if result.cached else result.usage.cost_usd
        m.tokens.labels("input", result.model, prompt).inc(result.usage.prompt_tokens)
        m.tokens.labels("output", result.model, prompt).inc(result.usage.completion_tokens)
        if cost:
            m.cost.labels(result.model, prompt).inc(cost)
        for verdict in result.verdicts:
            m.guard_verdicts.labels(verdict.guard, verdict.action).inc()
        m.outcomes.labels(route, result.outcome).inc()
        stopped = next((v for v in result.verdicts if v.triggered and v.action in _STOPPING_ACTIONS), None)
        if stopped is not None:
            m.blocked.labels(route, stopped.stage, stopped.guard, stopped.action).inc()

        span = trace.get_current_span()  # the HTTP server span (none outside a request)
        if span.is_recording():
            for key, value in {
                "ladder.outcome": result.outcome,
                "ladder.prompt": prompt,
                "ladder.model": result.model,
                "ladder.provider": result.provider,
                "ladder.index.version": result.index_version or None,
                "ladder.cache_hit": result.cached,
                "ladder.cost_usd": cost,
                "ladder.usage.input_tokens": result.usage.prompt_tokens,
                "ladder.usage.output_tokens": result.usage.completion_tokens,
                "ladder.usage.source": result.usage.source,
                "ladder.refusal_reason": _reason_code(result),
                "ladder.guards.triggered": [v.guard for v in result.verdicts if v.triggered],
            }.items():
                if value is not None:
                    span.set_attribute(key, value)

        facts = current_facts()
        if facts is not None:
            facts.key_id = key_id or facts.key_id
            facts.model, facts.provider = result.model, result.provider
            facts.prompt_version, facts.outcome, facts.cache_hit = prompt, result.outcome, result.cached

    def shutdown(self) -> None:
        self.provider.shutdown()


def _reason_code(result: PipelineResult) -> str | None:
    # A refusal's machine-readable cause, never its user-facing sentence (which may quote
    # the question).
    code = result.extra.get("refusal_code")
    if isinstance(code, str):
        return code
    if result.refusal_reason == "no_evidence":
        return "no_evidence"
    stopped = next((v for v in result.verdicts if v.triggered and v.action in _STOPPING_ACTIONS), None)
    return f"{stopped.stage}:{stopped.guard}" if stopped else None


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""

