"""One translation from exceptions to HTTP: an OpenAI-style JSON error body, always.

Caller mistakes get a precise 4xx; our own failures a 5xx whose body says what
failed in general terms (never a stack trace), with the trace id to find it in
the logs.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.errors import AuthError, RateLimited, RequestError, ServiceError
from gateway.observability.tracing import current_trace_id
from prompts.errors import GateRefused, PromptNotFound, RegistryError
from retrieval.errors import IndexError_, QueryError

log = logging.getLogger("ladder.errors")


def error_response(
    status: int, message: str, error_type: str, code: str | None = None,
    param: str | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    # Only the first element says where the value came from; a later "query" is a field
    # (/v1/search's question is called "query").
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    return ".".join(str(p) for p in loc) or "body"


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    first_param = None
    for err in exc.errors():
        where = _location(tuple(err.get("loc", ())))
        first_param = first_param or where
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            return f"request body is not valid JSON: {err.get('ctx', {}).get('error', msg)}", None
        if err.get("type") == "missing":
            msg = "field required"
        elif err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "value_error":
            msg = str(msg).removeprefix("Value error, ")  # our validators' own words
        problems.append(f"{where}: {msg}")
    return "; ".join(problems), first_param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(400, message, "invalid_request_error", "invalid_request", param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not_found_error", 405: "invalid_request_error", 413: "invalid_request_error"}
        return error_response(
            exc.status_code, str(exc.detail), kinds.get(exc.status_code, "invalid_request_error"),
            code={404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status_code),
            headers=exc.headers,  # e.g. Allow on a 405
        )

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        wait = max(1, int(exc.retry_after + 0.999))
        return error_response(
            429, exc.message, exc.error_type, exc.code, headers={"Retry-After": str(wait)}
        )

    @app.exception_handler(RequestError)
    async def _request(request: Request, exc: RequestError) -> JSONResponse:
        # RFC 6750 section 3: a 401 names the scheme the client should use.
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
        return error_response(exc.status_code, exc.message, exc.error_type, exc.code, exc.param, headers)

    @app.exception_handler(QueryError)
    async def _query(request: Request, exc: QueryError) -> JSONResponse:
        return error_response(400, str(exc), "invalid_request_error", "invalid_query")

    @app.exception_handler(PromptNotFound)
    async def _prompt_missing(request: Request, exc: PromptNotFound) -> JSONResponse:
        return error_response(404, str(exc), "not_found_error", "prompt_not_found", "prompt_version")

    @app.exception_handler(GateRefused)
    async def _gate(request: Request, exc: GateRefused) -> JSONResponse:
        return error_response(409, str(exc), "release_gate_failed", "gate_refused")

    @app.exception_handler(RegistryError)
    async def _registry(request: Request, exc: RegistryError) -> JSONResponse:
        return error_response(409, str(exc), "invalid_request_error", "registry_conflict")

    @app.exception_handler(IndexError_)
    async def _index(request: Request, exc: IndexError_) -> JSONResponse:
        log.error("index unavailable: %s", exc)
        return error_response(
            503, "the search index is not available; run `ladder ingest` and retry",
            "service_unavailable", "index_unavailable",
        )

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        log.error("service error: %s", exc)
        return error_response(503, "the answer service is temporarily unavailable; retry shortly",
                              exc.error_type, "service_unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        trace_id = current_trace_id()
        log.exception("unhandled error (trace %s)", trace_id)
        return error_response(
            500, f"internal error; quote trace id {trace_id or 'n/a'} when reporting it",
            "server_error", "internal_error",
        )
