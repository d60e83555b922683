"""Any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, llama.cpp server.

This module owns the wire format (request body, replies, SSE deltas); the HTTP
client lives in ``upstream_http``: one shared aiohttp session per provider by
default, or an injected ``aiohttp.ClientSession`` / ``httpx.AsyncClient`` (tests
pass a client bound to a local server or an ``httpx.MockTransport``). Transport
failures arrive as ProviderTimeout / ProviderConnectionError and become
ProviderStreamError once a delta has been handed out.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

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
from gateway.providers.upstream_http import UpstreamTransport, make_transport

if TYPE_CHECKING:
    import aiohttp
    import httpx


def _retry_after(headers: Mapping[str, str]) -> float | None:
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
        client: aiohttp.ClientSession | httpx.AsyncClient | None = None,
        max_connections: int = 100,
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        # Cheap: the aiohttp session itself is created in start(), inside the serving loop.
        self._transport: UpstreamTransport = make_transport(name, client, max_connections)
        # An injected client is usable at once (its owner opened it); our own opens in start().
        self._injected = client is not None
        self._started = self._injected

    async def start(self) -> None:
        await self._transport.start()
        self._started = True

    async def close(self) -> None:
        await self._transport.close()
        self._started = self._injected

    async def ready(self) -> bool:
        return self._started and self._transport.ready()

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

    def _url(self) -> str:
        if not self._started:
            raise ProviderError("provider used before start()", provider=self.name)
        return f"{self._base_url}/chat/completions"

    async def complete(self, request: ProviderRequest, *, timeout: float) -> ProviderResponse:
        try:
            reply = await self._transport.post(
                self._url(), self._body(request, stream=False), self._headers(), timeout=timeout
            )
        except ProviderTimeout as exc:
            raise ProviderTimeout(f"no answer within {timeout:.1f}s", provider=self.name) from exc
        if reply.status >= 400:
            raise ProviderHTTPError(
                reply.status,
                reply.body.decode("utf-8", "replace"),
                provider=self.name,
                retry_after=_retry_after(reply.headers),
            )
        try:
            payload = json.loads(reply.body)
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
            if not isinstance(text, str):  # e.g. a list of parts: not what we asked for
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
        started = False
        try:
            async with self._transport.stream(
                self._url(), self._body(request, stream=True), self._headers(), timeout=timeout
            ) as response:
                if response.status >= 400:
                    body = (await response.read()).decode("utf-8", "replace")
                    raise ProviderHTTPError(
                        response.status,
                        body,
                        provider=self.name,
                        retry_after=_retry_after(response.headers),
                    )
                done = False
                async with aclosing(response.lines()) as lines:
                    async for line in lines:
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
                    raise ProviderStreamError("stream ended without [DONE]", provider=self.name)
        except ProviderTimeout as exc:
            cls = ProviderStreamError if started else ProviderTimeout
            raise cls(f"stream timed out after {timeout:.1f}s", provider=self.name) from exc
        except ProviderConnectionError as exc:
            cls = ProviderStreamError if started else ProviderConnectionError
            raise cls(f"stream broke: {exc}", provider=self.name) from exc

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
