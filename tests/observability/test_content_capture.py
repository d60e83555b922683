"""Content capture ON (``telemetry.capture_content``): what the spans then carry, on a real
gateway (tests/observability/conftest.py): retrieved chunk ids and scores on the retrieval
span, and the prompt the provider saw - with the user's PII replaced by placeholders.

(With capture off, test_traces.py asserts these attributes are absent.)
"""

from __future__ import annotations

import json
import math
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from .conftest import Gateway

EMAIL, PHONE, SSN = "jane.doe@example.com", "+1 415 555 0134", "078-05-1120"
RAW = [EMAIL, "jane.doe", PHONE, "415 555 0134", SSN]
QUESTION = "What should a Staff Applied AI Engineer achieve in the first 90 days?"


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{name}: {len(found)} spans"
    return found[0]


def _user_text(provider: ReadableSpan) -> str:
    messages = json.loads(provider.attributes["gen_ai.input.messages"])
    users = [m for m in messages if m["role"] == "user"]
    assert users, messages
    return "\n".join(part["content"] for m in users for part in m["parts"] if part["type"] == "text")


def _all_attribute_text(spans: list[ReadableSpan]) -> str:
    values: list[Any] = []
    for span in spans:
        values += list((span.attributes or {}).values())
        values += [v for event in span.events for v in (event.attributes or {}).values()]
    return "\n".join(json.dumps(v, default=str) if not isinstance(v, str) else v for v in values)


def test_retrieval_span_carries_the_retrieved_chunk_ids_and_scores(capturing_gateway: Gateway) -> None:
    with capturing_gateway.client() as client:
        response = client.post("/v1/answers", json={"question": QUESTION, "top_k": 4})
    assert response.status_code == 200, response.text
    spans = capturing_gateway.trace(response.headers["x-trace-id"])
    retrieval = _one(spans, "ladder.retrieval")

    ids = list(retrieval.attributes["ladder.retrieval.chunk_ids"])
    scores = list(retrieval.attributes["ladder.retrieval.scores"])
    assert 1 <= len(ids) <= retrieval.attributes["gen_ai.request.top_k"] == 4
    assert len(scores) == len(ids) and len(set(ids)) == len(ids)
    assert all(isinstance(s, float) and math.isfinite(s) for s in scores)
    # They are ids of the index this gateway serves, and the passages the provider was given.
    index = capturing_gateway.services.snapshot.index
    chunks = [index.chunk(chunk_id) for chunk_id in ids]
    assert all(chunk is not None for chunk in chunks), ids
    prompt = _user_text(_one(spans, "ladder.provider"))
    first = chunks[0]
    assert f"[1] {first.doc_title}" in prompt and first.text.splitlines()[0] in prompt  # type: ignore[union-attr]
    # The answer's citations point into what was retrieved.
    cited = {c["chunk_id"] for c in response.json()["citations"]}
    assert cited and cited & set(ids), (cited, ids)


def test_captured_prompt_text_is_pii_redacted(capturing_gateway: Gateway) -> None:
    question = f"{QUESTION} My email is {EMAIL}, my phone is {PHONE} and my SSN is {SSN}."
    history_question = f"I'm {EMAIL}. What are the KPIs of a Staff Applied AI Engineer?"
    with capturing_gateway.client() as client:
        answer = client.post("/v1/answers", json={"question": question})
        chat = client.post("/v1/chat/completions", json={
            "model": "ladder-extractive",
            "messages": [{"role": "user", "content": history_question},
                         {"role": "assistant", "content": "They include availability."},
                         {"role": "user", "content": "And the 30-day goals?"}],
        })
    assert (answer.status_code, chat.status_code) == (200, 200)

    single = capturing_gateway.trace(answer.headers["x-trace-id"])
    captured = _user_text(_one(single, "ladder.provider"))
    # The question is there, with each PII value replaced by its typed placeholder.
    assert f"{QUESTION} My email is <EMAIL_1>, my phone is <PHONE_1> and my SSN is <SSN_1>." in captured
    assert "gen_ai.system_instructions" in _one(single, "ladder.provider").attributes

    conversation = capturing_gateway.trace(chat.headers["x-trace-id"])
    history = _user_text(_one(conversation, "ladder.provider"))
    assert "I'm <EMAIL_1>. What are the KPIs of a Staff Applied AI Engineer?" in history
    assert "And the 30-day goals?" in history

    # Nowhere in either trace - prompt, passages, answer, guard spans - is a raw value.
    everything = _all_attribute_text(single + conversation)
    for value in RAW:
        assert value not in everything, f"{value!r} was captured"
