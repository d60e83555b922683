"""The pieces without a server: formatters, scrubbing, exporter choice, sub-step timing."""

from __future__ import annotations

import json
import logging
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from gateway.observability.export import ScrubbingExporter, make_exporter
from gateway.observability.logs import (
    BOUNDED,
    JsonFormatter,
    LadderHandler,
    TextFormatter,
    configure_logging,
)
from gateway.observability.metrics import Metrics
from gateway.observability.redaction import scrub
from gateway.observability.tracing import Telemetry
from gateway.settings import TelemetrySettings

KEY = "lk_0123456789ab_" + "s3cr3t-" * 6


def _record(message: str, *args: object, exc: BaseException | None = None, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("ladder.test", logging.INFO, __file__, 1, message, args,
                               (type(exc), exc, None) if exc else None)
    record.fields = fields
    return record


def test_scrub_removes_credentials_and_pii_but_keeps_the_key_id() -> None:
    text = f"auth Authorization: Bearer {KEY} for jane@example.com, call +44 20 7946 0958, key sk-{'a' * 24}"
    cleaned = scrub(text, secrets=["upstream-secret-value"])
    assert KEY not in cleaned and "s3cr3t" not in cleaned and "sk-aaaa" not in cleaned
    assert "jane@example.com" not in cleaned and "7946 0958" not in cleaned
    assert "<EMAIL>" in cleaned and "<PHONE>" in cleaned
    assert scrub("the upstream-secret-value leaked", secrets=["upstream-secret-value"]) == "the [REDACTED] leaked"
    assert "lk_0123456789ab_[REDACTED]" in scrub(KEY)
    # Ordinary operational text is left alone.
    assert scrub("POST /v1/answers 200 max_tokens=700 tokens_in=12") == "POST /v1/answers 200 max_tokens=700 tokens_in=12"


def test_json_lines_carry_fields_and_scrub_message_and_traceback() -> None:
    try:
        raise ValueError(f"bad key {KEY} from jane@example.com")
    except ValueError as exc:
        record = _record("failed for %s", "jane@example.com", exc=exc, route="/v1/answers", status=500)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert parsed["message"] == "failed for <EMAIL>"
    assert parsed["route"] == "/v1/answers" and parsed["status"] == 500 and parsed["level"] == "INFO"
    assert "ValueError" in parsed["error"] and "s3cr3t" not in line and "jane@example.com" not in line
    assert parsed["trace_id"] == ""  # no span is current here

    text = TextFormatter().format(_record("started", workers=2))
    assert " INFO ladder.test started workers=2" in text


def test_only_a_message_marked_bounded_skips_scrubbing() -> None:
    # The request line is built from method, route template and status; everything else,
    # a traceback included, is still scrubbed.
    bounded = _record("POST %s %d", "/v1/answers", 200)
    setattr(bounded, BOUNDED, True)
    assert json.loads(JsonFormatter().format(bounded))["message"] == "POST /v1/answers 200"
    try:
        raise ValueError("from jane@example.com")
    except ValueError:
        marked = _record("failed")
        setattr(marked, BOUNDED, True)
        marked.exc_info = sys.exc_info()
    assert "jane@example.com" not in JsonFormatter().format(marked)
    unmarked = _record("mail %s", "jane@example.com")
    assert json.loads(JsonFormatter().format(unmarked))["message"] == "mail <EMAIL>"


def test_configure_logging_replaces_its_own_handler_and_keeps_others() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    other = logging.NullHandler()
    root.addHandler(other)
    try:
        configure_logging(TelemetrySettings(log_format="text", log_level="WARNING"))
        configure_logging(TelemetrySettings(log_format="json", log_level="DEBUG"))
        ours = [h for h in root.handlers if isinstance(h, LadderHandler)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
        assert other in root.handlers and root.level == logging.DEBUG
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("none", type(None)), ("console", ConsoleSpanExporter), ("memory", InMemorySpanExporter),
     ("otlp-grpc", GrpcExporter), ("otlp-http", HttpExporter)],
)
def test_exporter_follows_settings(kind: str, expected: type) -> None:
    settings = TelemetrySettings(exporter=kind, otlp_endpoint="http://127.0.0.1:4318/v1/traces")
    assert isinstance(make_exporter(settings), expected)
    telemetry = Telemetry(settings, Metrics())
    telemetry.shutdown()  # nothing was recorded: no export is attempted


def test_scrubbing_exporter_rewrites_only_error_detail() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(memory, secrets=("upstream-secret",))))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("fine") as span:
        span.set_attribute("ladder.prompt", "rag_answer@1.0.0")
    with tracer.start_as_current_span("failed") as span:
        span.record_exception(RuntimeError("lookup failed for jane@example.com with upstream-secret"))
        span.set_status(Status(StatusCode.ERROR, "jane@example.com"))
    fine, failed = memory.get_finished_spans()
    assert fine.attributes["ladder.prompt"] == "rag_answer@1.0.0"
    message = failed.events[0].attributes["exception.message"]
    assert message == "lookup failed for <EMAIL> with [REDACTED]"
    assert "jane@example.com" not in failed.events[0].attributes["exception.stacktrace"]
    assert failed.status.status_code == StatusCode.ERROR and failed.status.description == "<EMAIL>"


def test_content_is_captured_only_when_enabled_and_always_scrubbed() -> None:
    for enabled in (False, True):
        telemetry = Telemetry(TelemetrySettings(exporter="memory", capture_content=enabled), Metrics())
        with telemetry.stage("provider") as span:
            telemetry.capture(span, "gen_ai.input.messages", [{"role": "user", "content": "I am jane@example.com"}])
        (finished,) = telemetry.exporter.get_finished_spans()
        captured = finished.attributes.get("gen_ai.input.messages")
        if enabled:
            assert json.loads(captured) == [{"role": "user", "content": "I am <EMAIL>"}]
        else:
            assert captured is None
        telemetry.shutdown()


def test_without_an_exporter_nothing_is_recorded_but_trace_ids_exist() -> None:
    from gateway.observability.tracing import current_trace_id

    telemetry = Telemetry(TelemetrySettings(exporter="none"), Metrics())
    with telemetry.stage("provider") as span:
        assert not span.is_recording()
        trace_id = current_trace_id()
    assert trace_id and int(trace_id, 16) != 0
    telemetry.shutdown()


def test_sample_ratio_records_that_share_of_root_traces() -> None:
    for ratio, expected in ((0.0, 0), (1.0, 200)):
        telemetry = Telemetry(TelemetrySettings(exporter="memory", sample_ratio=ratio), Metrics())
        for _ in range(200):
            with telemetry.stage("provider"):
                pass
        assert len(telemetry.exporter.get_finished_spans()) == expected
        telemetry.shutdown()
    half = Telemetry(TelemetrySettings(exporter="memory", sample_ratio=0.5), Metrics())
    for _ in range(400):
        with half.stage("provider"):
            pass
    assert 120 < len(half.exporter.get_finished_spans()) < 280  # ratio-based on random trace ids
    half.shutdown()
    with pytest.raises(ValueError):
        TelemetrySettings(sample_ratio=1.5)


def test_search_steps_are_reported_without_changing_results(corpus_index_root: Path, torch_embedder: Any) -> None:
    from retrieval.config import RetrievalConfig
    from retrieval.index.store import load_index
    from retrieval.searcher import HybridSearcher

    index = load_index(corpus_index_root, torch_embedder)
    searcher = HybridSearcher(index, torch_embedder, RetrievalConfig(embedding_backend="torch"))
    query = "inference p95 latency target"
    steps: list[tuple[str, int, int]] = []
    # One vector for both: embedding the same text twice may differ in the last float bits.
    vector = searcher.embed_query(query)
    plain = searcher.search(query, k=8, query_vector=vector)
    observed = searcher.search(query, k=8, query_vector=vector, on_step=lambda *step: steps.append(step))
    assert [(h.chunk.id, h.score) for h in observed] == [(h.chunk.id, h.score) for h in plain]
    assert [name for name, _, _ in steps] == ["bm25", "embed", "dense", "fusion"]
    assert all(start <= end for _, start, end in steps)
    assert all(a[2] <= b[1] for a, b in pairwise(steps))  # one after another
    bm25_only: list[tuple[str, int, int]] = []
    searcher.search(query, k=3, mode="bm25", on_step=lambda *step: bm25_only.append(step))
    assert [name for name, _, _ in bm25_only] == ["bm25", "fusion"]
