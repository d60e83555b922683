"""Provider routing against a REAL OpenAI-compatible upstream on 127.0.0.1 that is told
to fail (gateway.testing.fake_upstream): retries, Retry-After, timeouts, fallback to the
extractive provider, mid-stream failures and the circuit breaker.

What reached the upstream is read from its own /_stats, never from the gateway."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from gateway.testing.servers import UpstreamServer
from tests.gateway.conftest import (
    BREAKER_THRESHOLD,
    COOLDOWN_S,
    RETRIES,
    TIMEOUT_S,
    Gateway,
    wait_until,
)

pytestmark = pytest.mark.integration

QUESTION = "What is the target for inference availability for a Staff Applied AI Engineer?"
PIECE = re.compile(r"(.+?)\s*\[(\d{1,3})\]")
BACKOFF_MAX_S = 1.0  # backoff.max_s in the test routing file


def ask(http: httpx.Client, model: str = "ladder-chat", question: str = QUESTION) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = http.post("/v1/answers", json={"question": question, "model": model})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return response.json(), elapsed


def stream(sdk: Any, model: str = "ladder-chat") -> tuple[str, list[Any]]:
    chunks = list(sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], stream=True
    ))
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks


def assert_quotes_its_passages(body: dict[str, Any]) -> None:
    """The fake upstream's answer is sentences copied from the passages it was given, each
    followed by that passage's marker: every sentence must be inside the quote cited for it."""
    pieces = PIECE.findall(body["answer"])
    assert pieces, body["answer"]
    quotes = {c["marker"]: c["quote"] for c in body["citations"]}
    for sentence, marker in pieces:
        assert sentence.strip().rstrip(".") in quotes[int(marker)], (sentence, quotes)


@pytest.fixture
def healthy(gateway: Gateway, http: httpx.Client) -> Iterator[UpstreamServer]:
    """Each case starts with an upstream that answers and a closed breaker: a breaker an
    earlier case opened closes after its cool-down, on the first probe that succeeds."""
    fake = gateway.upstream
    fake.reset()
    assert wait_until(lambda: ask(http)[0]["provider"] == "upstream", timeout_s=COOLDOWN_S * 3 + 10, interval_s=0.1)
    fake.reset()
    yield fake
    fake.reset()


def test_healthy_upstream_serves_a_grounded_answer(healthy: UpstreamServer, http: httpx.Client) -> None:
    body, _ = ask(http)
    assert body["provider"] == "upstream" and body["model"] == "ladder-chat"
    assert healthy.stats() == {"ok": 1}
    assert body["refused"] is False
    assert_quotes_its_passages(body)
    assert any(c["section_path"].endswith("Inference availability") for c in body["citations"])
    assert body["usage"]["source"] == "provider"  # the upstream's own token counts


def test_one_server_error_is_retried(healthy: UpstreamServer, http: httpx.Client, gateway: Gateway) -> None:
    retries = gateway.metric("ladder_provider_retries_total", provider="upstream")
    healthy.control("error500", times=1)
    body, _ = ask(http)
    assert body["provider"] == "upstream"
    assert healthy.stats() == {"error500": 1, "ok": 1}
    assert gateway.metric("ladder_provider_retries_total", provider="upstream") == retries + 1
    assert_quotes_its_passages(body)


def test_persistent_server_errors_fall_back_to_extractive(
    healthy: UpstreamServer, http: httpx.Client, gateway: Gateway
) -> None:
    labels = {"alias": "ladder-chat", "from_provider": "upstream", "to_provider": "extractive"}
    fallbacks = gateway.metric("ladder_provider_fallbacks_total", **labels)
    healthy.control("error500")
    body, _ = ask(http)
    assert body["provider"] == "extractive"
    assert healthy.stats() == {"error500": RETRIES + 1}  # every attempt, then the fallback
    assert "99.9%" in body["answer"] and body["citations"]
    assert gateway.metric("ladder_provider_fallbacks_total", **labels) == fallbacks + 1


def test_short_retry_after_is_waited_for(healthy: UpstreamServer, http: httpx.Client) -> None:
    healthy.control("rate_limit", times=1, retry_after=0.3)
    body, elapsed = ask(http)
    assert body["provider"] == "upstream"
    assert healthy.stats() == {"rate_limit": 1, "ok": 1}
    assert elapsed >= 0.3


def test_long_retry_after_falls_back_at_once(healthy: UpstreamServer, http: httpx.Client) -> None:
    healthy.control("rate_limit", retry_after=30)
    body, elapsed = ask(http)
    assert body["provider"] == "extractive"
    assert healthy.stats() == {"rate_limit": 1}  # not retried: the wait is too long
    assert elapsed < 10, f"held the request {elapsed:.1f} s"


def test_timeouts_fall_back_within_the_deadline(healthy: UpstreamServer, http: httpx.Client) -> None:
    attempts = RETRIES + 1
    healthy.control("timeout", times=attempts, hang_s=TIMEOUT_S * 5)
    body, elapsed = ask(http)
    assert body["provider"] == "extractive"
    assert healthy.stats() == {"timeout": attempts}
    # Each attempt waits its timeout and no longer; backoff adds at most max_s per retry.
    assert attempts * TIMEOUT_S * 0.95 <= elapsed < attempts * TIMEOUT_S + RETRIES * BACKOFF_MAX_S + 3.0


def test_malformed_response_falls_back_without_retry(healthy: UpstreamServer, http: httpx.Client) -> None:
    healthy.control("malformed")
    body, _ = ask(http)
    assert body["provider"] == "extractive"
    assert healthy.stats() == {"malformed": 1}  # a protocol error is not retried


def test_stream_from_the_upstream(healthy: UpstreamServer, sdk: Any, http: httpx.Client) -> None:
    text, chunks = stream(sdk)
    whole, _ = ask(http)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 5
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["provider"] == "upstream"
    assert text == whole["answer"]


def test_stream_falls_back_when_the_upstream_fails_before_sending(healthy: UpstreamServer, sdk: Any) -> None:
    healthy.control("error500")
    text, chunks = stream(sdk)
    assert chunks[-1].model_extra["provider"] == "extractive"
    assert "99.9%" in text and healthy.stats() == {"error500": RETRIES + 1}


def test_stream_reset_before_any_sentence_falls_back(healthy: UpstreamServer, sdk: Any) -> None:
    # Three words, then the connection drops: no whole sentence passed the guards yet,
    # so nothing was shown and the fallback can still answer in full.
    healthy.control("reset_mid_stream", times=1, reset_after_words=3)
    text, chunks = stream(sdk)
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert final.model_extra["provider"] == "extractive"
    assert "99.9%" in text and final.model_extra["citations"]
    assert healthy.stats() == {"reset_mid_stream": 1}


def test_stream_reset_after_a_sentence_ends_with_an_error_event(
    healthy: UpstreamServer, sdk: Any, http: httpx.Client, gateway: Gateway, api_key: str
) -> None:
    first_sentence = PIECE.match(ask(http)[0]["answer"])
    assert first_sentence is not None
    expected = first_sentence.group(0)

    # The SDK raises: the client is told the answer is incomplete, never silently cut.
    healthy.control("reset_mid_stream", times=1)
    received: list[Any] = []
    with pytest.raises(openai.APIError) as info:
        received.extend(sdk.chat.completions.create(
            model="ladder-chat", messages=[{"role": "user", "content": QUESTION}], stream=True
        ))
    assert "incomplete" in info.value.message
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text.strip() == expected  # the sentence that was complete, and nothing after it
    assert all(c.choices[0].finish_reason is None for c in received if c.choices)

    # On the wire: the error event, then [DONE]; no finish_reason chunk pretends it ended well.
    healthy.control("reset_mid_stream", times=1)
    body = {"model": "ladder-chat", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=60,
                      headers={"authorization": f"Bearer {api_key}"}) as response:
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == "stream_interrupted" and error["type"] == "provider_error"
    assert not any('"finish_reason": "stop"' in e for e in events)


def test_circuit_breaker_skips_a_failing_upstream_and_recovers(
    healthy: UpstreamServer, http: httpx.Client, gateway: Gateway
) -> None:
    state = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
    breakers = gateway.services.router
    healthy.control("error500")
    for failures in range(1, BREAKER_THRESHOLD + 1):
        body, _ = ask(http, "ladder-breaker")
        assert body["provider"] == "extractive"
        assert healthy.stats() == {"error500": failures}  # retries: 0 for this alias
    assert breakers.breaker_states()["flaky-upstream"] == "open"
    assert gateway.metric("ladder_circuit_state", provider="flaky-upstream") == state["open"]

    # Open: requests go straight to the fallback; none reaches the upstream.
    for _ in range(2):
        body, _ = ask(http, "ladder-breaker")
        assert body["provider"] == "extractive"
    assert healthy.requests() == BREAKER_THRESHOLD

    # After the cool-down one probe goes through; it fails, so the breaker opens again.
    time.sleep(COOLDOWN_S + 0.1)
    ask(http, "ladder-breaker")
    assert healthy.requests() == BREAKER_THRESHOLD + 1
    assert breakers.breaker_states()["flaky-upstream"] == "open"
    ask(http, "ladder-breaker")
    assert healthy.requests() == BREAKER_THRESHOLD + 1

    # The upstream recovers: after the next cool-down the probe succeeds and closes it.
    healthy.control("ok")
    time.sleep(COOLDOWN_S + 0.1)
    body, _ = ask(http, "ladder-breaker")
    assert body["provider"] == "flaky-upstream"
    assert breakers.breaker_states()["flaky-upstream"] == "closed"
    assert gateway.metric("ladder_circuit_state", provider="flaky-upstream") == state["closed"]
    body, _ = ask(http, "ladder-breaker")
    assert body["provider"] == "flaky-upstream"
    assert healthy.stats()["ok"] == 2
