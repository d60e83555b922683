"""Per-key limits through HTTP on ``cached_gateway`` (whose upstream model is priced): the
requests-per-minute bucket under concurrency, and the monthly budget checked before the
provider is called."""

from __future__ import annotations

import math
from collections import Counter

import httpx
import pytest

from tests.gateway.clients import Call, burst, key_id, ledger_rows
from tests.gateway.conftest import Gateway, assert_error

pytestmark = pytest.mark.integration

QUESTION = {"question": "What are the KPIs of an MLOps Engineer?"}


@pytest.fixture(scope="module", autouse=True)
def _healthy_upstream(cached_gateway: Gateway) -> None:
    # Other modules make the shared fake upstream misbehave; the budget test needs its answers.
    cached_gateway.upstream.reset()


def _post(gateway: Gateway, key: str, path: str, body: object) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, headers={"authorization": f"Bearer {key}"}, timeout=60)


def test_50_concurrent_requests_against_rpm_20_let_exactly_20_through(cached_gateway: Gateway) -> None:
    # Another key puts the answer in the response cache, so the admitted requests are quick
    # and all 50 reach the limiter well inside the 3 s the bucket takes to refill one request.
    warm = cached_gateway.create_key("rpm-warm-up", "answers")
    assert _post(cached_gateway, warm, "/v1/answers", QUESTION).status_code == 200

    key = cached_gateway.create_key("rpm-20", "answers", rpm=20, tpm=10_000_000)
    responses = burst(cached_gateway.url, key, [Call("POST", "/v1/answers", QUESTION)] * 50, in_flight=50)

    assert Counter(r.status_code for r in responses) == {200: 20, 429: 30}
    for response in responses:
        if response.status_code == 429:
            error = assert_error(response, 429, "rate_limited_requests")
            assert error["type"] == "rate_limit_error" and "20 requests per minute" in error["message"]
            # 20 per minute refill one request every 3 s.
            assert 1 <= int(response.headers["retry-after"]) <= 3
    # The 30 rejected requests never reached the pipeline: only the 20 admitted ones were
    # answered and recorded (rejections show in the request log and metrics, not the ledger).
    assert cached_gateway.services.ledger.flush(timeout=10)
    assert len(ledger_rows(cached_gateway.settings.ledger_path, key_id(key))) == 20


def _priced_chat(question: str) -> dict[str, object]:
    # Sampled, so never replayed from the cache: every request reaches the priced upstream.
    return {"model": "ladder-chat", "temperature": 0.5, "max_tokens": 256,
            "messages": [{"role": "user", "content": question}]}


def test_a_spent_monthly_budget_is_refused_with_402_before_the_provider_is_called(
    cached_gateway: Gateway,
) -> None:
    budget = 0.03
    key = cached_gateway.create_key("tiny-budget", "chat", rpm=100_000, tpm=100_000_000,
                                    monthly_budget_usd=budget)
    body = _priced_chat("What are the 90-day goals of an MLOps Engineer?")
    served: list[dict[str, object]] = []
    refused = None
    for _ in range(20):  # at ~$0.005 a request the budget lasts a handful of requests
        response = _post(cached_gateway, key, "/v1/chat/completions", body)
        if response.status_code != 200:
            refused = response
            break
        served.append(response.json())
    assert refused is not None, f"{len(served)} requests served on a ${budget} budget"
    assert served, "the first request fits the budget and must be served"
    assert all(b["provider"] == "upstream" and b["usage"]["cost_usd"] > 0 for b in served)  # type: ignore[index]

    error = assert_error(refused, 402)
    assert error["type"] == "budget_exceeded"
    assert error["code"] in {"budget_insufficient", "budget_exhausted"}
    assert "monthly budget" in error["message"] and f"${budget:.2f}" in error["message"]

    # Checked before the call: the refused request reached no provider and left no row, and
    # what was spent never exceeds the budget.
    upstream_calls = cached_gateway.upstream.requests()
    again = _post(cached_gateway, key, "/v1/chat/completions", body)
    assert_error(again, 402)
    assert cached_gateway.upstream.requests() == upstream_calls
    assert cached_gateway.services.ledger.flush(timeout=10)
    rows = ledger_rows(cached_gateway.settings.ledger_path, key_id(key))
    assert len(rows) == len(served)
    spent = math.fsum(row["cost_usd"] for row in rows)
    assert spent == pytest.approx(math.fsum(b["usage"]["cost_usd"] for b in served))  # type: ignore[index]
    assert 0 < spent <= budget


def test_a_zero_budget_is_exhausted_from_the_first_request(cached_gateway: Gateway) -> None:
    key = cached_gateway.create_key("no-budget", "chat", monthly_budget_usd=0.0)
    error = assert_error(_post(cached_gateway, key, "/v1/chat/completions", _priced_chat("What are the KPIs of an MLOps Engineer?")),
                         402, "budget_exhausted")
    assert "exhausted" in error["message"] and "resets on" in error["message"]
