"""Any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, llama.cpp server.

One shared ``httpx.AsyncClient`` per provider (injected, so tests can pass a
client bound to a local server or a MockTransport). Transport exceptions are
translated into ProviderError subclasses here, at the boundary.

Timeouts: ``complete`` gets one deadline for the whole call (an upstream that
drips bytes must not hold a request past it); ``stream`` applies the timeout to
connecting and to each read, since a long answer may legitimately take longer
than any one gap between its deltas.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from gateway.providers.base import (
    ProviderRequest,
    ProviderResponse,
    ProviderUsage,
    StreamDelta,
)
from gateway.providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderStreamError,
    ProviderTimeout,
)


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _usage(payload: Any) -> ProviderUsage | None:
    if not isinstance(payload, dict):
        return None
    try:
        return ProviderUsage(int(payload["prompt_tokens"]), int(payload["completion_tokens"]))
    except (KeyError, TypeError, ValueError):
        return None


class OpenAICompatibleProvider:
    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        api_key: str | None = None,
        client: httpx.AsyncClient | None = None,
        max_connections: int = 100,
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._client = client
        self._owns_client = client is None
        self._max_connections = max_connections

    async def start(self) -> None:
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            )
            # A default timeout always applies; per-call timeouts override it.
            self._client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0))

    async def close(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def ready(self) -> bool:
        return self._client is not None

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    def _body(self, request: ProviderRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "stream": stream,
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = request.stop
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _client_or_fail(self) -> httpx.AsyncClient:
        if self._client is None:
            raise ProviderError("provider used before start()", provider=self.name)
        return self._client

    async def complete(self, request: ProviderRequest, *, timeout: float) -> ProviderResponse:
        client = self._client_or_fail()
        try:
            async with asyncio.timeout(timeout):
                response = await client.post(
                    f"{self._base_url}/chat/completions",
                    json=self._body(request, stream=False),
                    headers=self._headers(),
                    timeout=timeout,
                )
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise ProviderTimeout(f"no answer within {timeout:.1f}s", provider=self.name) from exc
        except httpx.TransportError as exc:
            raise ProviderConnectionError(f"connection failed: {type(exc).__name__}", provider=self.name) from exc
        except httpx.HTTPError as exc:  # decoding errors, redirects: not the wire format we speak
            raise ProviderProtocolError(f"unusable response: {type(exc).__name__}", provider=self.name) from exc
        if response.status_code >= 400:
            raise ProviderHTTPError(
                response.status_code,
                response.text,
                provider=self.name,
                retry_after=_retry_after(response.headers),
            )
        try:
            payload = response.json()
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
            if not isinstance(text, str):
                raise TypeError("message content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderProtocolError(
                "upstream response is not an OpenAI chat completion", provider=self.name
            ) from exc
        return ProviderResponse(
            text=text,
            model=str(payload.get("model") or request.model),
            finish_reason=str(choice.get("finish_reason") or "stop"),
            usage=_usage(payload.get("usage")),
        )

    async def stream(self, request: ProviderRequest, *, timeout: float) -> AsyncIterator[StreamDelta]:
        client = self._client_or_fail()
        started = False
        try:
            async with client.stream(
                "POST",
                f"{self._base_url}/chat/completions",
                json=self._body(request, stream=True),
                headers=self._headers(),
                timeout=timeout,
            ) as response:
                if response.status_code >= 400:
                    body = (await response.aread()).decode("utf-8", "replace")
                    raise ProviderHTTPError(
                        response.status_code,
                        body,
                        provider=self.name,
                        retry_after=_retry_after(response.headers),
                    )
                done = False
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError as exc:
                        raise ProviderProtocolError("malformed stream event", provider=self.name) from exc
                    delta = self._delta(chunk)
                    if delta is not None:
                        started = True
                        yield delta
                if not done:
                    cls = ProviderStreamError if started else ProviderProtocolError
                    raise cls("stream ended without [DONE]", provider=self.name)
        except httpx.TimeoutException as exc:
            cls = ProviderStreamError if started else ProviderTimeout
            raise cls(f"stream timed out after {timeout:.1f}s", provider=self.name) from exc
        except httpx.TransportError as exc:
            cls = ProviderStreamError if started else ProviderConnectionError
            raise cls(f"stream broke: {type(exc).__name__}", provider=self.name) from exc
        except httpx.HTTPError as exc:
            cls = ProviderStreamError if started else ProviderProtocolError
            raise cls(f"unusable stream: {type(exc).__name__}", provider=self.name) from exc

    def _delta(self, chunk: Any) -> StreamDelta | None:
        if not isinstance(chunk, dict):
            raise ProviderProtocolError("stream event is not an object", provider=self.name)
        usage = _usage(chunk.get("usage"))
        choices = chunk.get("choices") or []
        if not choices:
            return StreamDelta(usage=usage) if usage else None
        choice = choices[0] if isinstance(choices, list) else None
        delta = choice.get("delta") if isinstance(choice, dict) else None
        text = (delta or {}).get("content") if isinstance(delta, dict | None) else None
        if not isinstance(choice, dict) or not isinstance(delta, dict | None) or not isinstance(text, str | None):
            raise ProviderProtocolError("stream event is not a chat completion chunk", provider=self.name)
        finish = choice.get("finish_reason")
        return StreamDelta(text=text or "", finish_reason=str(finish) if finish else None, usage=usage)
