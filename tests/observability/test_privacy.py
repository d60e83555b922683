"""No PII and no key material in spans or logs, with content capture off and on; the request
log line has the fields an operator needs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from gateway.observability.logs import JsonFormatter

from .conftest import Gateway, wait_for

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0134"
PII_QUESTION = f"What should a Staff Applied AI Engineer achieve in the first 90 days? My email is {EMAIL} and my phone is {PHONE}."
FORGED_KEY = "lk_0123456789ab_" + "Q" * 43


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def _span_text(span: ReadableSpan) -> list[str]:
    texts = [span.name, span.status.description or ""]
    texts += _strings(dict(span.attributes or {}))
    for event in span.events:
        texts += _strings(dict(event.attributes or {}))
    return texts


def _forbidden(plain_key: str) -> list[str]:
    secret = plain_key.split("_", 2)[2]
    return [EMAIL, "jane.doe", PHONE, "415 555 0134", "4155550134", plain_key, secret, FORGED_KEY, "Q" * 43]


def _assert_clean(texts: list[str], forbidden: list[str], where: str) -> None:
    for text in texts:
        for needle in forbidden:
            assert needle not in text, f"{needle!r} leaked into {where}: {text[:300]!r}"


@pytest.mark.parametrize("which", ["gateway", "capturing_gateway"])
def test_no_pii_or_key_material_in_spans_or_logs(
    which: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    gateway: Gateway = request.getfixturevalue(which)
    key_id, plain = gateway.create_key(f"privacy-{which}")
    caplog.set_level(logging.DEBUG)
    with gateway.client(authorization=f"Bearer {plain}") as client:
        answer = client.post("/v1/answers", json={"question": PII_QUESTION})
        chat = client.post("/v1/chat/completions", json={
            "model": "ladder-extractive", "user": EMAIL,
            "messages": [{"role": "user", "content": PII_QUESTION}],
        })
    with gateway.client(authorization=f"Bearer {FORGED_KEY}") as client:
        rejected = client.post("/v1/answers", json={"question": PII_QUESTION})
    assert (answer.status_code, chat.status_code, rejected.status_code) == (200, 200, 401)
    trace_ids = [r.headers["x-trace-id"] for r in (answer, chat, rejected)]

    spans = [span for trace_id in trace_ids for span in gateway.trace(trace_id)]
    forbidden = _forbidden(plain)
    for span in spans:
        _assert_clean(_span_text(span), forbidden, f"span {span.name}")

    def logged() -> list[logging.LogRecord] | None:
        # Written once the response is sent: the client can be a moment ahead.
        found = [r for r in caplog.records if r.name == "ladder.request" and getattr(r, "trace_id", None) in trace_ids]
        return found if len(found) == len(trace_ids) else None

    request_lines = wait_for(logged, "the three request log lines")
    formatter = JsonFormatter()
    for record in caplog.records:
        texts = [record.getMessage(), formatter.format(record), *_strings(vars(record).get("fields"))]
        _assert_clean(texts, forbidden, f"log record {record.name}")

    # The request line: who (key id, never the key), what, how it went, how long.
    lines = {r.trace_id: r.fields for r in request_lines}  # type: ignore[attr-defined]
    answered = lines[trace_ids[0]]
    assert answered["key_id"] == key_id
    assert answered["route"] == "/v1/answers" and answered["method"] == "POST" and answered["status"] == 200
    assert answered["outcome"] in ("ok", "refused") and answered["outcome"] == (
        "refused" if answer.json()["refused"] else "ok")
    assert answered["model"] == "ladder-extractive" and answered["provider"] == answer.json()["provider"]
    assert answered["prompt_version"] == "{name}@{version}".format(**answer.json()["prompt"])
    assert answered["cache_hit"] is False and answered["latency_ms"] > 0
    assert lines[trace_ids[1]]["route"] == "/v1/chat/completions"
    assert lines[trace_ids[2]]["status"] == 401 and lines[trace_ids[2]]["outcome"] == "error"
    assert lines[trace_ids[2]]["key_id"] is None
    parsed = json.loads(formatter.format(next(r for r in request_lines if r.trace_id == trace_ids[0])))  # type: ignore[attr-defined]
    assert parsed["trace_id"] == trace_ids[0] and parsed["level"] == "INFO" and parsed["ts"].endswith("Z")

    provider_spans = [s for s in spans if s.name == "ladder.provider"]
    assert provider_spans, "the questions reach the provider (PII is redacted, not refused)"
    if which == "capturing_gateway":
        # Content is captured - from the redacted messages: placeholders, never the values.
        captured = provider_spans[0].attributes["gen_ai.input.messages"]
        assert "<EMAIL_1>" in captured and "<PHONE_1>" in captured
        assert "gen_ai.output.messages" in provider_spans[0].attributes
        retrieval = next(s for s in spans if s.name == "ladder.retrieval")
        assert len(retrieval.attributes["ladder.retrieval.chunk_ids"]) == len(retrieval.attributes["ladder.retrieval.scores"]) > 0
    else:
        for span in spans:
            assert not any(k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system")) for k in span.attributes)
