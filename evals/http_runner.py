"""A ``PipelineRunner`` that calls a running ladder server over HTTP (``--url``).

Single questions go to ``POST /v1/answers``; multi-turn cases to
``POST /v1/chat/completions``. Neither returns the retrieved chunks, so the
runner also asks ``POST /v1/search`` with the final question (and the case's
role filter) and scores retrieval on those hits. For multi-turn cases the
server may rewrite the query with the conversation; the search then uses the
bare last question, so retrieval scores of ``--url`` multi-turn runs are an
approximation of what the in-process run measures.

"Blocked" is read from the guard verdicts of ``/v1/answers`` (an input-stage
verdict that fired with action ``block``). The chat response carries no
verdicts and reports a block and a scope refusal alike (``refused``,
finish_reason ``content_filter``), so over ``--url`` a blocked multi-turn case
counts as refused, not blocked; the in-process run has no such gap.

``section_ids`` lists the served sections from ``GET /v1/roles`` and
``GET /v1/roles/<slug>`` (sections and their sub-sections: the two levels the
corpus format has), so a golden case citing a missing section fails before the
run. A key without the ``roles`` scope gets 401/403 there; the check is then
skipped (the harness reports it) rather than failing a run the key may make.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import ValidationError

from evals.errors import RunnerError
from gateway.pipeline_types import PipelineRequest, PipelineResult, RetrievedChunk
from gateway.schemas.common import Citation, PromptRef, Usage
from guardrails.base import Verdict

SEARCH_K = 10


class HttpRunner:
    def __init__(self, client: httpx.AsyncClient, *, default_model: str, search_k: int = SEARCH_K):
        self._client = client
        self._default_model = default_model
        self._search_k = search_k

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, *, api_key: str | None = None, timeout_s: float = 60.0,
        default_model: str, transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[HttpRunner]:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        async with httpx.AsyncClient(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        ) as client:
            yield cls(client, default_model=default_model)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise RunnerError(f"POST {path} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            raise RunnerError(f"POST {path} returned {response.status_code}: {message}")
        try:
            data = response.json()
        except ValueError as exc:
            raise RunnerError(f"POST {path} did not return JSON") from exc
        if not isinstance(data, dict):
            raise RunnerError(f"POST {path} returned {type(data).__name__}, not an object")
        return data

    async def _get(self, path: str) -> httpx.Response:
        try:
            return await self._client.get(path)
        except httpx.HTTPError as exc:
            raise RunnerError(f"GET {path} failed: {type(exc).__name__}: {exc}") from exc

    async def section_ids(self) -> set[str] | None:
        """Every section id the server's index has; None when this key may not list roles."""
        ids: set[str] = set()
        listing = await self._get("/v1/roles")
        if listing.status_code in (401, 403, 404):
            return None
        for role in _json_list(listing, "/v1/roles"):
            slug = str(role.get("slug", ""))
            detail = await self._get(f"/v1/roles/{slug}")
            if detail.status_code in (401, 403):
                return None
            data = _json_object(detail, f"/v1/roles/{slug}")
            try:
                for section in data.get("sections") or []:
                    ids.add(str(section["id"]))
                    ids.update(str(sub["id"]) for sub in section.get("subsections") or [])
            except (KeyError, TypeError, AttributeError) as exc:
                raise RunnerError(f"GET /v1/roles/{slug}: a section has no id") from exc
        return ids

    async def run(self, request: PipelineRequest) -> PipelineResult:
        question = request.messages[-1]["content"]
        started = time.perf_counter()
        if len(request.messages) == 1:
            body: dict[str, Any] = {"question": question, "role": request.role, "top_k": request.top_k,
                    "model": request.model, "prompt_version": request.prompt_version}
            data = await self._post("/v1/answers", {k: v for k, v in body.items() if v is not None})
            answer = str(data.get("answer", ""))
        else:
            body = {"model": request.model or self._default_model, "messages": request.messages,
                    "role": request.role, "prompt_version": request.prompt_version}
            if request.max_tokens is not None:
                body["max_tokens"] = request.max_tokens
            data = await self._post(
                "/v1/chat/completions", {k: v for k, v in body.items() if v is not None}
            )
            try:
                answer = str(data["choices"][0]["message"]["content"] or "")
            except (KeyError, IndexError, TypeError) as exc:
                raise RunnerError("chat completion has no choices[0].message.content") from exc
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        try:
            return await self._to_result(request, data, answer, elapsed_ms)
        except ValidationError as exc:
            raise RunnerError(f"unexpected response shape: {exc.errors()[0]['msg']}") from exc

    async def _to_result(
        self, request: PipelineRequest, data: dict[str, Any], answer: str, elapsed_ms: float
    ) -> PipelineResult:
        verdicts = [Verdict.model_validate(v) for v in data.get("guardrails") or []]
        refused = bool(data.get("refused", False))
        reason = data.get("refusal_reason")
        blocked = bool(data.get("blocked")) or any(
            v.stage == "input" and v.triggered and v.action == "block" for v in verdicts
        )
        retrieved: list[RetrievedChunk] = []
        index_version = ""
        if not blocked:
            search: dict[str, Any] = {"query": request.messages[-1]["content"],
                      "k": max(request.top_k or 0, self._search_k)}
            if request.role:
                search["role"] = request.role
            hits = await self._post("/v1/search", search)
            index_version = str(hits.get("index_version", ""))
            retrieved = [_chunk(hit) for hit in hits.get("hits") or []]
        usage = data.get("usage") or {}
        prompt = data.get("prompt") or {}
        return PipelineResult(
            answer=answer,
            citations=[Citation.model_validate(c) for c in data.get("citations") or []],
            retrieved=retrieved,
            refused=refused or blocked,
            blocked=blocked,
            refusal_reason=reason,
            outcome="blocked" if blocked else "refused" if refused else "ok",
            verdicts=verdicts,
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                total_tokens=int(usage.get("total_tokens", 0)),
                cost_usd=usage.get("cost_usd"),
                source=str(usage.get("source", "http")),
            ),
            model=str(data.get("model", "")),
            provider=str(data.get("provider") or ""),
            prompt=PromptRef(name=str(prompt.get("name", "")), version=str(prompt.get("version", "")),
                             label=prompt.get("label")),
            trace_id=str(data.get("trace_id") or data.get("id") or ""),
            latency_ms=float(data.get("latency_ms", elapsed_ms)),
            index_version=index_version,
            cached=bool(data.get("cached", False)),
        )


def _json_object(response: httpx.Response, path: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RunnerError(f"GET {path} returned {response.status_code}: {response.text[:300]}")
    try:
        data = response.json()
    except ValueError as exc:
        raise RunnerError(f"GET {path} did not return JSON") from exc
    if not isinstance(data, dict):
        raise RunnerError(f"GET {path} returned {type(data).__name__}, not an object")
    return data


def _json_list(response: httpx.Response, path: str) -> list[dict[str, Any]]:
    data = _json_object(response, path).get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise RunnerError(f"GET {path} has no 'data' list of roles")
    return data


def _chunk(hit: dict[str, Any]) -> RetrievedChunk:
    try:
        return RetrievedChunk(
            chunk_id=str(hit["chunk_id"]), role=str(hit.get("role", "")),
            document=str(hit.get("document", "")), section_id=str(hit["section_id"]),
            section_path=str(hit.get("section_path", "")), kind=str(hit.get("kind", "text")),
            text=str(hit.get("text", "")), score=float(hit.get("score", 0.0)),
            bm25_score=hit.get("bm25_score"), dense_score=hit.get("dense_score"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RunnerError(f"a /v1/search hit lacks chunk_id or section_id: {hit!r:.200}") from exc
