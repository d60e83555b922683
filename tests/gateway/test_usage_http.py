"""GET /v1/usage and the response cache, end to end on ``cached_gateway`` (cache on, the
upstream's model priced): what the report says is checked against the responses the
callers got and against the ledger file read with plain sqlite3."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.gateway.clients import key_id, ledger_rows
from tests.gateway.conftest import Gateway, assert_error

pytestmark = pytest.mark.integration

LIMITS = {"rpm": 100_000, "tpm": 100_000_000}


def _post(gateway: Gateway, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(gateway.url + path, json=body, headers={"authorization": f"Bearer {key}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _usage(gateway: Gateway, key: str, **params: str) -> httpx.Response:
    return httpx.get(gateway.url + "/v1/usage", params=params, headers={"authorization": f"Bearer {key}"},
                     timeout=60)


def _report(gateway: Gateway, key: str, **params: str) -> dict[str, Any]:
    assert gateway.services.ledger.flush(timeout=10)  # the report reads committed rows
    response = _usage(gateway, key, **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _groups(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["group"]: row for row in report["data"]}


def _chat(question: str, **extra: Any) -> dict[str, Any]:
    return {"model": "ladder-chat", "messages": [{"role": "user", "content": question}], **extra}


@pytest.fixture(scope="module", autouse=True)
def _healthy_upstream(cached_gateway: Gateway) -> None:
    # Other modules make the shared fake upstream misbehave; these tests need its answers.
    cached_gateway.upstream.reset()


# -- the response cache, seen from /v1/chat/completions ---------------------------------------


def _stream(gateway: Gateway, key: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The streamed answer text and the final chunk (the one with finish_reason)."""
    text, final = "", None
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json={**body, "stream": True},
                      headers={"authorization": f"Bearer {key}"}, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: "):])
            assert "error" not in chunk, chunk
            choice = chunk["choices"][0]
            text += choice["delta"].get("content") or ""
            if choice["finish_reason"] is not None:
                final = chunk
    assert final is not None
    return text, final


def test_repeated_temperature_zero_chat_is_a_marked_cache_hit_that_costs_nothing(cached_gateway: Gateway) -> None:
    key = cached_gateway.create_key("chat-cache", "chat,usage:read", **LIMITS)
    body = _chat("Which skills does an MLOps Engineer need?", temperature=0)
    before = _report(cached_gateway, key)["response_cache"]

    first = _post(cached_gateway, key, "/v1/chat/completions", body)
    second = _post(cached_gateway, key, "/v1/chat/completions", body)
    streamed_text, final = _stream(cached_gateway, key, body)

    assert first["provider"] == "upstream" and not first["refused"]
    assert first["cached"] is False and first["usage"]["cost_usd"] > 0
    assert second["cached"] is True and second["usage"]["cost_usd"] == 0
    assert second["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
    assert second["usage"]["prompt_tokens"] == first["usage"]["prompt_tokens"]  # what it would have cost
    assert second["trace_id"] != first["trace_id"]
    # The stream's final chunk carries the same extension fields as the plain response.
    assert final["cached"] is True and streamed_text == first["choices"][0]["message"]["content"]

    after = _report(cached_gateway, key)  # flushes the ledger first
    rows = {row["trace_id"]: row for row in ledger_rows(cached_gateway.settings.ledger_path, key_id(key))}
    assert set(rows) == {first["trace_id"], second["trace_id"], final["trace_id"]}
    assert rows[first["trace_id"]]["cache_hit"] == 0
    assert rows[first["trace_id"]]["cost_usd"] == pytest.approx(first["usage"]["cost_usd"])
    for trace in (second["trace_id"], final["trace_id"]):
        assert rows[trace]["cache_hit"] == 1 and rows[trace]["cost_usd"] == 0

    # /v1/usage: the key's own hit rate from the ledger, and the process-wide cache block.
    (own,) = after["data"]
    assert own["group"] == key_id(key) and own["requests"] == 3
    assert own["cache_hit_rate"] == pytest.approx(2 / 3)
    assert own["cost_usd"] == pytest.approx(first["usage"]["cost_usd"])
    cache = after["response_cache"]
    assert (cache["hits"] - before["hits"], cache["misses"] - before["misses"]) == (2, 1)
    assert cache["hit_rate"] == pytest.approx(cache["hits"] / (cache["hits"] + cache["misses"]))
    assert cache["entries"] >= 1


def test_chat_without_temperature_uses_the_prompts_and_is_cached_only_if_that_is_zero(
    cached_gateway: Gateway,
) -> None:
    key = cached_gateway.create_key("chat-default-temperature", "chat,roles", **LIMITS)
    body = _chat("What are the 60-day goals of an MLOps Engineer?")  # no temperature: the prompt's applies
    first = _post(cached_gateway, key, "/v1/chat/completions", body)
    second = _post(cached_gateway, key, "/v1/chat/completions", body)
    prompt = first["prompt"]
    version = httpx.get(f"{cached_gateway.url}/v1/prompts/{prompt['name']}/versions/{prompt['version']}",
                        headers={"authorization": f"Bearer {key}"}, timeout=10).json()
    deterministic = version["parameters"]["temperature"] == 0
    assert first["cached"] is False
    # A sampled prompt must never be replayed: its answers are not meant to repeat.
    assert second["cached"] is deterministic


# -- GET /v1/usage: groups, time window, who sees what ------------------------------------------


def test_usage_groups_window_and_visibility(cached_gateway: Gateway) -> None:
    alice = cached_gateway.create_key("usage-alice", "answers,chat,usage:read", **LIMITS)
    bob = cached_gateway.create_key("usage-bob", "answers,usage:read", **LIMITS)
    admin = cached_gateway.create_key("usage-admin", "admin", **LIMITS)
    question = {"question": "What does an MLOps Engineer own in the first 30 days?"}

    early = [
        _post(cached_gateway, alice, "/v1/answers", question),
        _post(cached_gateway, alice, "/v1/chat/completions",
              _chat("Which KPIs does an MLOps Engineer report?", temperature=0.5)),
    ]
    assert cached_gateway.services.ledger.flush(timeout=10)
    split = datetime.now(UTC)  # every early row was recorded before this instant
    time.sleep(0.05)
    late = [_post(cached_gateway, alice, "/v1/answers", question)]
    bobs = [_post(cached_gateway, bob, "/v1/answers", {"question": "What are the KPIs of an MLOps Engineer?"})]
    alices = early + late
    assert [b["cached"] for b in alices] == [False, False, True]

    def totals(bodies: list[dict[str, Any]]) -> tuple[int, int, int, float]:
        usage = [b["usage"] for b in bodies]
        return (len(bodies), sum(u["prompt_tokens"] for u in usage), sum(u["completion_tokens"] for u in usage),
                math.fsum(u["cost_usd"] for u in usage))

    def row_totals(row: dict[str, Any]) -> tuple[int, int, int, float]:
        return row["requests"], row["tokens_in"], row["tokens_out"], row["cost_usd"]

    # group_by=key (the default): a non-admin usage:read key sees its own key only.
    report = _report(cached_gateway, alice)
    assert report["group_by"] == "key" and set(_groups(report)) == {key_id(alice)}
    (row,) = report["data"]
    assert row_totals(row) == pytest.approx(totals(alices))
    assert row["cost_usd"] > 0  # the routed chat request was priced
    assert row["cache_hit_rate"] == pytest.approx(1 / 3)
    assert row["refusal_rate"] == 0 and row["error_rate"] == 0 and row["unpriced_requests"] == 0
    assert 0 < row["p50_latency_ms"] <= row["p95_latency_ms"]
    assert set(_groups(_report(cached_gateway, bob))) == {key_id(bob)}
    assert row_totals(_report(cached_gateway, bob)["data"][0]) == pytest.approx(totals(bobs))

    # An admin key sees every key, the same figures included.
    everyone = _groups(_report(cached_gateway, admin))
    assert {key_id(alice), key_id(bob)} <= set(everyone)
    assert row_totals(everyone[key_id(alice)]) == pytest.approx(totals(alices))

    # group_by=model: the alias each request named.
    by_model = _groups(_report(cached_gateway, alice, group_by="model"))
    assert {g: r["requests"] for g, r in by_model.items()} == dict(Counter(b["model"] for b in alices))
    assert by_model["ladder-chat"]["cost_usd"] == pytest.approx(early[1]["usage"]["cost_usd"])

    # group_by=prompt_version: name@version of the prompt that rendered each answer.
    by_prompt = _groups(_report(cached_gateway, alice, group_by="prompt_version"))
    expected = Counter(f"{b['prompt']['name']}@{b['prompt']['version']}" for b in alices)
    assert {g: r["requests"] for g, r in by_prompt.items()} == dict(expected)

    # group_by=day: the UTC days of the rows (read from the file, so midnight cannot flake it).
    days = Counter(row["ts"][:10] for row in ledger_rows(cached_gateway.settings.ledger_path, key_id(alice)))
    by_day = _groups(_report(cached_gateway, alice, group_by="day"))
    assert {g: r["requests"] for g, r in by_day.items()} == dict(days)

    # since is inclusive, until exclusive; both accept ISO date-times.
    at = split.isoformat()
    assert row_totals(_report(cached_gateway, alice, since=at)["data"][0]) == pytest.approx(totals(late))
    assert row_totals(_report(cached_gateway, alice, until=at)["data"][0]) == pytest.approx(totals(early))
    window = _report(cached_gateway, alice, since=at, until=at)
    assert window["data"] == [] and window["since"] == window["until"]
    assert _report(cached_gateway, alice, since="2999-01-01")["data"] == []
    assert _report(cached_gateway, alice, since="7d")["data"][0]["requests"] == 3


@pytest.mark.parametrize(
    ("params", "param"),
    [({"since": "last tuesday"}, "since"), ({"until": "2025-13-01"}, "until"),
     ({"since": "2025-06-02", "until": "2025-06-01"}, "since"), ({"group_by": "user"}, None)],
    ids=["bad-since", "bad-until", "since-after-until", "bad-group-by"],
)
def test_usage_rejects_bad_parameters_with_a_clear_400(
    cached_gateway: Gateway, params: dict[str, str], param: str | None
) -> None:
    key = cached_gateway.create_key("usage-bad-params", "usage:read", **LIMITS)
    error = assert_error(_usage(cached_gateway, key, **params), 400)
    if param is not None:
        assert error["code"] == "invalid_time" and error["param"] == param
    else:
        assert "group_by" in (error["param"] or "") + error["message"]
