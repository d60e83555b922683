"""Replies that are HTTP 200 but not the OpenAI wire format are ProviderProtocolError (the
router falls back on it), never an exception that escapes as a 500. httpx.MockTransport
stands in for the upstream: these shapes are what a broken server would send."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.providers.base import ProviderRequest
from gateway.providers.errors import ProviderError, ProviderProtocolError
from gateway.providers.openai_compat import OpenAICompatibleProvider

REQUEST = ProviderRequest(model="m", messages=[{"role": "user", "content": "q"}], question="q", passages=[])


def _provider(reply: Any, *, stream_lines: list[str] | None = None) -> tuple[OpenAICompatibleProvider, httpx.AsyncClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        if stream_lines is not None:
            return httpx.Response(200, text="".join(f"{line}\n\n" for line in stream_lines),
                                  headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=reply)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatibleProvider("up", base_url="http://upstream.test/v1", client=client), client


@pytest.mark.parametrize(
    "reply",
    [
        {"choices": []},
        {"choices": ["text"]},
        {"choices": [{"message": "text"}]},
        {"choices": [{"message": {"content": [{"type": "text", "text": "x"}]}}]},
        {"choices": [{"message": {"content": 42}}]},
        ["not", "an", "object"],
    ],
    ids=["no-choices", "choice-string", "message-string", "content-list", "content-number", "list"],
)
async def test_malformed_completion_is_a_protocol_error(reply: Any) -> None:
    provider, client = _provider(reply)
    async with client:
        with pytest.raises(ProviderProtocolError):
            await provider.complete(REQUEST, timeout=5)


@pytest.mark.parametrize(
    "event",
    [
        ["x"],
        {"choices": ["x"]},
        {"choices": [{"delta": "x"}]},
        {"choices": [{"delta": {"content": 7}}]},
        {"choices": {"0": {}}},
    ],
    ids=["list", "choice-string", "delta-string", "content-number", "choices-object"],
)
async def test_malformed_stream_event_is_a_provider_error(event: Any) -> None:
    provider, client = _provider(None, stream_lines=[f"data: {json.dumps(event)}", "data: [DONE]"])
    async with client:
        with pytest.raises(ProviderError):
            _ = [delta async for delta in provider.stream(REQUEST, timeout=5)]


async def test_well_formed_stream_is_read() -> None:
    events = [
        {"choices": [{"delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"delta": {"content": "Hello "}}]},
        {"choices": [{"delta": {"content": "there."}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
    ]
    provider, client = _provider(None, stream_lines=[f"data: {json.dumps(e)}" for e in events] + ["data: [DONE]"])
    async with client:
        deltas = [delta async for delta in provider.stream(REQUEST, timeout=5)]
    assert "".join(d.text for d in deltas) == "Hello there."
    assert deltas[-2].finish_reason == "stop"
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == 2
