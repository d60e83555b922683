"""Every way a request can be wrong gets the same JSON error shape and the right status,
never a 500 or a stack trace."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import Gateway, assert_error

pytestmark = pytest.mark.integration


def test_unknown_model(http: httpx.Client) -> None:
    error = assert_error(http.post("/v1/answers", json={"question": "KPIs?", "model": "nope"}), 404, "model_not_found")
    assert error["param"] == "model" and "ladder-extractive" in error["message"]


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"], ids=["empty", "spaces", "whitespace", "control"])
def test_empty_question(http: httpx.Client, question: str) -> None:
    error = assert_error(http.post("/v1/answers", json={"question": question}), 400, "invalid_request")
    assert error["param"] == "question"


def test_question_over_4000_characters(http: httpx.Client) -> None:
    error = assert_error(http.post("/v1/answers", json={"question": "a" * 4001}), 400)
    assert error["param"] == "question" and "4000" in error["message"]
    assert http.post("/v1/answers", json={"question": "What are the KPIs? " + "a" * 3970}).status_code == 200


def test_oversized_body_with_content_length(gateway: Gateway, http: httpx.Client) -> None:
    limit = gateway.settings.max_body_bytes
    body = json.dumps({"question": "x" * (limit + 10)}).encode()
    response = http.post("/v1/answers", content=body, headers={"content-type": "application/json"})
    error = assert_error(response, 413, "request_too_large")
    assert str(limit) in error["message"]


def test_oversized_chunked_body_without_content_length(gateway: Gateway, http: httpx.Client) -> None:
    limit = gateway.settings.max_body_bytes
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"question": "'
        while sent < 2 * limit:
            sent += 8192
            yield b"x" * 8192
        yield b'"}'

    request = http.build_request("POST", "/v1/answers", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in request.headers and request.headers["transfer-encoding"] == "chunked"
    assert_error(http.send(request), 413, "request_too_large")


def test_chat_body_over_the_limit(gateway: Gateway, http: httpx.Client) -> None:
    messages = [{"role": "user", "content": "y" * 1000}] * (gateway.settings.max_body_bytes // 1000 + 5)
    response = http.post("/v1/chat/completions", json={"model": "ladder-extractive", "messages": messages})
    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/roles/no-such-role", None),
        ("GET", "/v1/roles/no-such-role/kpis", None),
        ("POST", "/v1/answers", {"question": "What are the KPIs?", "role": "no-such-role"}),
        ("POST", "/v1/search", {"query": "availability", "role": "no-such-role"}),
    ],
    ids=["role", "kpis", "answers", "search"],
)
def test_unknown_role_slug(http: httpx.Client, method: str, path: str, body: object) -> None:
    error = assert_error(http.request(method, path, json=body), 404, "role_not_found")
    assert "staff-applied-ai-engineer" in error["message"]  # says which roles exist
    assert "did you mean" not in error["message"]  # nothing close to guess from


@pytest.mark.parametrize(
    ("slug", "meant"),
    [("engineering-manager", "engineering-manager-applied-ai"), ("data-engineer", "staff-data-engineer"),
     ("mlops", "mlops-engineer"), ("staff-aplied-ai-engineer", "staff-applied-ai-engineer")],
)
def test_a_near_miss_role_slug_says_which_role_it_likely_means(http: httpx.Client, slug: str, meant: str) -> None:
    error = assert_error(http.get(f"/v1/roles/{slug}/kpis"), 404, "role_not_found")
    assert f"did you mean '{meant}'?" in error["message"], error["message"]


@pytest.mark.parametrize("path", ["/v1/answers", "/v1/chat/completions", "/v1/search"])
@pytest.mark.parametrize("content", [b"{bad json", b'{"question": "a"', b"", b"\xff\xfe"], ids=["syntax", "truncated", "empty", "binary"])
def test_malformed_json(http: httpx.Client, path: str, content: bytes) -> None:
    assert_error(http.post(path, content=content, headers={"content-type": "application/json"}), 400)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/answers", {"question": "What are the KPIs?", "qestion": "typo"}, "qestion"),
        ("/v1/search", {"query": "kpis", "limit": 3}, "limit"),
        # /v1/search's field is called "query", like FastAPI's location for query strings.
        ("/v1/search", {"question": "kpis"}, "query"),
        ("/v1/search", {"query": 42}, "query"),
        ("/v1/answers", {"question": "KPIs?", "query": "kpis"}, "query"),
        ("/v1/answers", ["What are the KPIs?"], None),
        ("/v1/answers", {"question": 42}, "question"),
        ("/v1/answers", {"question": "KPIs?", "top_k": 0}, "top_k"),
        ("/v1/chat/completions", {"model": "ladder-extractive", "messages": "hi"}, "messages"),
        ("/v1/chat/completions", {"model": "ladder-extractive", "messages": [{"role": "user", "content": "hi"}],
                                  "temperature": 7}, "temperature"),
    ],
    ids=["unknown-field", "unknown-search-field", "search-query-missing", "search-query-type",
         "query-on-answers", "not-an-object", "wrong-type", "out-of-range", "messages-type",
         "temperature"],
)
def test_invalid_fields(http: httpx.Client, path: str, body: object, param: str | None) -> None:
    error = assert_error(http.post(path, json=body), 400, "invalid_request")
    if param is not None:
        assert error["param"] == param and param in error["message"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/answers"), ("PUT", "/v1/chat/completions"),
                                              ("DELETE", "/v1/roles"), ("GET", "/v1/search")])
def test_wrong_method(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers.get("allow")


def test_unknown_path(http: httpx.Client) -> None:
    assert_error(http.get("/v1/nothing-here"), 404, "not_found")


def test_unknown_prompt_version(http: httpx.Client) -> None:
    assert_error(http.post("/v1/answers", json={"question": "KPIs?", "prompt_version": "9.9.9"}), 404,
                 "prompt_not_found")
    assert_error(http.get("/v1/prompts/no-such-prompt"), 404, "prompt_not_found")
    # A mistyped pin says what can be pinned instead.
    error = assert_error(http.post("/v1/answers", json={"question": "KPIs?", "prompt_version": "v99"}), 404,
                         "prompt_not_found")
    assert "labels: " in error["message"] and "production" in error["message"], error["message"]
    assert "versions: 1." in error["message"], error["message"]


def test_blank_search_query(http: httpx.Client) -> None:
    assert_error(http.post("/v1/search", json={"query": "   "}), 400)
