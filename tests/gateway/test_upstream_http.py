"""The OpenAI-compatible provider over both transports (aiohttp default, injected httpx),
against the real fake upstream on 127.0.0.1: every failure mode maps to its ProviderError."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from aiohttp import web

from gateway.providers.base import Passage, ProviderRequest
from gateway.providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderStreamError,
    ProviderTimeout,
)
from gateway.providers.openai_compat import OpenAICompatibleProvider
from gateway.testing.fake_upstream import FakeUpstream

PASSAGE_TEXT = "Evaluation coverage stays above 90 percent. Cost is reviewed weekly."
REQUEST = ProviderRequest(
    model="fake-llm",
    messages=[
        {"role": "system", "content": "Answer from the passages."},
        {"role": "user", "content": f"Question: what is measured?\n\n[1] KPIs\n{PASSAGE_TEXT}\n"},
    ],
    question="what is measured?",
    passages=[Passage(1, "c1", "KPIs", "Role › KPIs", PASSAGE_TEXT, 1.0)],
)
EXPECTED = "Evaluation coverage stays above 90 percent. [1]"


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream(hang_s=1.5)
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


@pytest.fixture(params=["aiohttp", "httpx"])
async def make_provider(request: pytest.FixtureRequest) -> AsyncIterator:
    """Build started providers on the parametrized transport; closes what it opened."""
    opened: list[object] = []

    async def make(base_url: str, max_connections: int = 100) -> OpenAICompatibleProvider:
        if request.param == "httpx":
            client = httpx.AsyncClient(limits=httpx.Limits(max_connections=max_connections))
            opened.append(client)
            provider = OpenAICompatibleProvider("up", base_url=base_url, client=client)
        else:
            provider = OpenAICompatibleProvider("up", base_url=base_url, max_connections=max_connections)
        await provider.start()
        opened.append(provider)
        return provider

    yield make
    for item in reversed(opened):
        await (item.close() if isinstance(item, OpenAICompatibleProvider) else item.aclose())  # type: ignore[attr-defined]


async def _collect(provider: OpenAICompatibleProvider, timeout: float = 5.0) -> list:
    return [delta async for delta in provider.stream(REQUEST, timeout=timeout)]


async def test_complete_returns_text_and_usage(upstream, make_provider) -> None:
    _, url = upstream
    provider = await make_provider(url)
    response = await provider.complete(REQUEST, timeout=5)
    assert response.text == EXPECTED
    assert response.finish_reason == "stop"
    assert response.usage is not None and response.usage.completion_tokens == len(EXPECTED.split())
    assert await provider.ready()


async def test_stream_yields_deltas_then_usage(upstream, make_provider) -> None:
    _, url = upstream
    provider = await make_provider(url)
    deltas = await _collect(provider)
    assert "".join(d.text for d in deltas) == EXPECTED
    assert any(d.finish_reason == "stop" for d in deltas)
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == len(EXPECTED.split())


@pytest.mark.parametrize("streaming", [False, True])
async def test_server_error_is_retryable_http_error(upstream, make_provider, streaming: bool) -> None:
    fake, url = upstream
    provider = await make_provider(url)
    fake.mode = "error500"
    with pytest.raises(ProviderHTTPError) as info:
        await (_collect(provider) if streaming else provider.complete(REQUEST, timeout=5))
    assert info.value.status_code == 500 and info.value.retryable
    assert "boom" in info.value.body


async def test_rate_limit_carries_retry_after(upstream, make_provider) -> None:
    fake, url = upstream
    provider = await make_provider(url)
    fake.mode, fake.retry_after = "rate_limit", 7.0
    with pytest.raises(ProviderHTTPError) as info:
        await provider.complete(REQUEST, timeout=5)
    assert info.value.status_code == 429 and info.value.retry_after == 7.0


@pytest.mark.parametrize("streaming", [False, True])
async def test_silence_past_the_timeout_is_provider_timeout(upstream, make_provider, streaming: bool) -> None:
    fake, url = upstream
    provider = await make_provider(url)
    fake.mode = "timeout"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderTimeout):
        await (_collect(provider, timeout=0.3) if streaming else provider.complete(REQUEST, timeout=0.3))
    assert loop.time() - started < 1.2  # the fake hangs 1.5 s: we gave up on our own clock


async def test_non_json_body_is_protocol_error(upstream, make_provider) -> None:
    fake, url = upstream
    provider = await make_provider(url)
    fake.mode = "malformed"
    with pytest.raises(ProviderProtocolError):
        await provider.complete(REQUEST, timeout=5)


async def test_connection_dropped_mid_stream_is_stream_error_after_output(upstream, make_provider) -> None:
    fake, url = upstream
    provider = await make_provider(url)
    fake.mode = "reset_mid_stream"
    received = []
    with pytest.raises(ProviderStreamError):
        async for delta in provider.stream(REQUEST, timeout=5):
            received.append(delta)
    assert received and received[0].text  # output had started: no fallback is possible


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("streaming", [False, True])
async def test_refused_connection_is_connection_error(make_provider, streaming: bool) -> None:
    provider = await make_provider(f"http://127.0.0.1:{_closed_port()}/v1")
    with pytest.raises(ProviderConnectionError) as info:
        await (_collect(provider) if streaming else provider.complete(REQUEST, timeout=5))
    assert info.value.retryable


async def test_many_concurrent_calls_share_a_small_pool(upstream, make_provider) -> None:
    fake, url = upstream
    fake.latency_s = 0.02
    provider = await make_provider(url, max_connections=4)
    results = await asyncio.gather(*(provider.complete(REQUEST, timeout=10) for _ in range(40)))
    assert [r.text for r in results] == [EXPECTED] * 40
    assert fake.stats["ok"] == 40


async def test_use_before_start_is_an_error() -> None:
    provider = OpenAICompatibleProvider("up", base_url="http://127.0.0.1:9/v1")
    assert not await provider.ready()
    with pytest.raises(ProviderError, match="before start"):
        await provider.complete(REQUEST, timeout=1)


async def test_injected_aiohttp_session_is_used_and_left_open(upstream) -> None:
    _, url = upstream
    async with aiohttp.ClientSession() as session:
        provider = OpenAICompatibleProvider("up", base_url=url, client=session)
        assert (await provider.complete(REQUEST, timeout=5)).text == EXPECTED
        await provider.close()
        assert not session.closed


async def test_httpx_mock_transport_injection() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer sk-test"
        return httpx.Response(503, headers={"Retry-After": "2"}, json={"error": "busy"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = OpenAICompatibleProvider("up", base_url="http://upstream.test/v1", api_key="sk-test", client=client)
        with pytest.raises(ProviderHTTPError) as info:
            await provider.complete(REQUEST, timeout=5)
    assert info.value.status_code == 503 and info.value.retry_after == 2.0


def test_unknown_client_type_is_refused() -> None:
    with pytest.raises(TypeError, match="aiohttp.ClientSession or httpx.AsyncClient"):
        OpenAICompatibleProvider("up", base_url="http://127.0.0.1:9/v1", client=object())  # type: ignore[arg-type]


@pytest.mark.parametrize("streaming", [False, True])
async def test_aiohttp_honours_proxy_environment(upstream, monkeypatch, streaming: bool) -> None:
    # The fake upstream stands in for the proxy: the upstream's own host does not resolve,
    # so an answer proves the request went through HTTP_PROXY.
    _, url = upstream
    proxy = url.removesuffix("/v1")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    provider = OpenAICompatibleProvider("up", base_url="http://llm.internal.invalid/v1")
    await provider.start()
    try:
        if streaming:
            assert "".join(d.text for d in await _collect(provider)) == EXPECTED
        else:
            assert (await provider.complete(REQUEST, timeout=5)).text == EXPECTED
    finally:
        await provider.close()


async def test_aiohttp_no_proxy_bypasses_the_proxy(upstream, monkeypatch) -> None:
    _, url = upstream
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    provider = OpenAICompatibleProvider("up", base_url=url)
    await provider.start()
    try:
        assert (await provider.complete(REQUEST, timeout=5)).text == EXPECTED
    finally:
        await provider.close()
