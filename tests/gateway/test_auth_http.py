"""Keys, scopes and rate limits through HTTP, with dev mode off. Keys are created the way
an operator creates them: gateway.auth.keys.KeyStore on the gateway's ledger database."""

from __future__ import annotations

import httpx
import pytest

from gateway.auth.scopes import Scope
from tests.auth.route_scopes import PROTECTED, ROUTE_SCOPES, served_route_scopes
from tests.gateway.conftest import Gateway, assert_error

pytestmark = pytest.mark.integration

ASK = {"model": "ladder-extractive", "messages": [{"role": "user", "content": "What are the KPIs of an MLOps Engineer?"}]}

# One harmless request per protected route: (path, body, the status a key holding the
# route's scope gets). The label move's body fails validation (an empty version), so no
# label is ever moved; admin/reload swaps in the index already served (same version).
SAMPLES: dict[str, tuple[str, object, int]] = {
    "POST /v1/chat/completions": ("/v1/chat/completions", ASK, 200),
    "GET /v1/models": ("/v1/models", None, 200),
    "POST /v1/feedback": ("/v1/feedback", {"trace_id": "scope-matrix", "rating": 1}, 201),
    "POST /v1/answers": ("/v1/answers", {"question": "What are the KPIs of an MLOps Engineer?"}, 200),
    "POST /v1/search": ("/v1/search", {"query": "kpis"}, 200),
    "GET /v1/roles": ("/v1/roles", None, 200),
    "GET /v1/roles/{slug}": ("/v1/roles/{slug}", None, 200),
    "GET /v1/roles/{slug}/kpis": ("/v1/roles/{slug}/kpis", None, 200),
    "GET /v1/roles/{slug}/tools": ("/v1/roles/{slug}/tools", None, 200),
    "GET /v1/roles/{slug}/scorecard": ("/v1/roles/{slug}/scorecard", None, 200),
    "GET /v1/prompts": ("/v1/prompts", None, 200),
    "GET /v1/prompts/{name}": ("/v1/prompts/rag_answer", None, 200),
    "GET /v1/prompts/{name}/versions/{version}": ("/v1/prompts/rag_answer/versions/1.0.0", None, 200),
    "POST /v1/prompts/{name}/labels/{label}": ("/v1/prompts/rag_answer/labels/production", {"version": ""}, 400),
    "GET /v1/usage": ("/v1/usage", None, 200),
    "POST /v1/admin/reload": ("/v1/admin/reload", None, 200),
}


def _call(gateway: Gateway, method: str, path: str, body: object, key: str | None = None,
          header: str | None = None) -> httpx.Response:
    headers = {"authorization": header if header is not None else f"Bearer {key}"} if (key or header) else {}
    return httpx.request(method, gateway.url + path, json=body, headers=headers, timeout=60)


class ScopedKeys:
    """Per scope, one key holding only that scope and one holding every other non-admin scope."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._keys: dict[tuple[Scope, bool], str] = {}

    def _key(self, scope: Scope, holding: bool) -> str:
        if (scope, holding) not in self._keys:
            granted = {scope} if holding else set(Scope) - {scope, Scope.ADMIN}
            self._keys[(scope, holding)] = self._gateway.create_key(
                f"{'only' if holding else 'all-but'}-{scope.value}", ",".join(sorted(granted)),
                rpm=100_000, tpm=100_000_000,
            )
        return self._keys[(scope, holding)]

    def holding(self, scope: Scope) -> str:
        return self._key(scope, True)

    def lacking(self, scope: Scope) -> str:
        return self._key(scope, False)


@pytest.fixture(scope="module")
def scoped_keys(gateway: Gateway) -> ScopedKeys:
    return ScopedKeys(gateway)


def test_every_protected_route_has_a_sample_request() -> None:
    assert served_route_scopes() == ROUTE_SCOPES  # the table matches the app...
    assert set(SAMPLES) == set(PROTECTED)  # ...and each protected route is exercised below


@pytest.mark.parametrize("route", sorted(PROTECTED))
def test_scope_matrix_over_http(gateway: Gateway, scoped_keys: ScopedKeys, route: str) -> None:
    """No key -> 401; a key without the route's scope -> 403; a key with it gets through."""
    assert gateway.settings.auth.dev_mode is False
    scope = PROTECTED[route]
    method = route.split(" ", 1)[0]
    path, body, status = SAMPLES[route]
    path = path.replace("{slug}", gateway.services.snapshot.catalog.summaries()[0]["slug"])

    anonymous = _call(gateway, method, path, body)
    assert_error(anonymous, 401, "missing_api_key")
    assert anonymous.headers["www-authenticate"] == "Bearer"

    error = assert_error(_call(gateway, method, path, body, scoped_keys.lacking(scope)), 403, "insufficient_scope")
    assert f"'{scope.value}'" in error["message"]

    allowed = _call(gateway, method, path, body, scoped_keys.holding(scope))
    assert allowed.status_code == status, allowed.text[:500]
    if status == 400:  # the label move reached the handler's validation, nothing more
        assert assert_error(allowed, 400)["param"] == "version"
    elif route == "POST /v1/admin/reload":
        assert allowed.json()["changed"] is False


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
