"""Keys, scopes and rate limits through HTTP, with dev mode off. Keys are created the way
an operator creates them: gateway.auth.keys.KeyStore on the gateway's ledger database."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import Gateway, assert_error

pytestmark = pytest.mark.integration

PROTECTED = [
    ("POST", "/v1/answers", {"question": "What are the KPIs?"}),
    ("POST", "/v1/chat/completions", {"model": "ladder-extractive", "messages": [{"role": "user", "content": "KPIs?"}]}),
    ("GET", "/v1/models", None),
    ("POST", "/v1/search", {"query": "kpis"}),
    ("GET", "/v1/roles", None),
    ("GET", "/v1/prompts", None),
    ("GET", "/v1/usage", None),
]


def _call(gateway: Gateway, method: str, path: str, body: object, key: str | None = None,
          header: str | None = None) -> httpx.Response:
    headers = {"authorization": header if header is not None else f"Bearer {key}"} if (key or header) else {}
    return httpx.request(method, gateway.url + path, json=body, headers=headers, timeout=60)


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=[p for _, p, _ in PROTECTED])
def test_no_key_is_401_when_dev_mode_is_off(gateway: Gateway, method: str, path: str, body: object) -> None:
    assert gateway.settings.auth.dev_mode is False
    response = _call(gateway, method, path, body)
    assert_error(response, 401, "missing_api_key")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("header", "code"),
    [("Basic dXNlcjpwYXNz", "invalid_authorization_header"), ("Bearer", "invalid_authorization_header"),
     ("Bearer not-a-key", "invalid_api_key"), ("Bearer lk_0123456789ab_" + "A" * 43, "invalid_api_key")],
    ids=["basic", "empty-bearer", "garbage", "unknown-key"],
)
def test_bad_credentials_are_401(gateway: Gateway, header: str, code: str) -> None:
    assert_error(_call(gateway, "POST", "/v1/answers", {"question": "KPIs?"}, header=header), 401, code)


def test_revoked_key_is_401(gateway: Gateway) -> None:
    key = gateway.create_key("revoked-before-use")
    gateway.revoke_key(key)
    assert_error(_call(gateway, "GET", "/v1/roles", None, key), 401, "invalid_api_key")


def test_chat_only_key_cannot_use_answers(gateway: Gateway) -> None:
    key = gateway.create_key("chat-only", "chat")
    error = assert_error(_call(gateway, "POST", "/v1/answers", {"question": "What are the KPIs?"}, key), 403,
                         "insufficient_scope")
    assert "'answers'" in error["message"]
    assert_error(_call(gateway, "POST", "/v1/search", {"query": "kpis"}, key), 403, "insufficient_scope")
    assert_error(_call(gateway, "GET", "/v1/roles", None, key), 403, "insufficient_scope")
    # ... while the scope it has works.
    chat = _call(gateway, "POST", "/v1/chat/completions",
                 {"model": "ladder-extractive", "messages": [{"role": "user", "content": "What are the KPIs of an MLOps Engineer?"}]},
                 key)
    assert chat.status_code == 200, chat.text
    assert _call(gateway, "GET", "/v1/models", None, key).status_code == 200


def test_rate_limit_is_429_with_retry_after(gateway: Gateway) -> None:
    key = gateway.create_key("one-per-minute", rpm=1)
    first = _call(gateway, "POST", "/v1/answers", {"question": "What are the KPIs of an MLOps Engineer?"}, key)
    assert first.status_code == 200, first.text
    second = _call(gateway, "POST", "/v1/answers", {"question": "What are the KPIs of an MLOps Engineer?"}, key)
    error = assert_error(second, 429, "rate_limited_requests")
    assert error["type"] == "rate_limit_error"
    assert 1 <= int(second.headers["retry-after"]) <= 60


def test_search_is_metered_too(gateway: Gateway) -> None:
    key = gateway.create_key("search-one-per-minute", "search", rpm=1)
    assert _call(gateway, "POST", "/v1/search", {"query": "kpis"}, key).status_code == 200
    response = _call(gateway, "POST", "/v1/search", {"query": "kpis"}, key)
    assert_error(response, 429, "rate_limited_requests")
    assert int(response.headers["retry-after"]) >= 1


def test_health_endpoints_need_no_key(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz").json()
    assert ready["status"] == "ready", ready
