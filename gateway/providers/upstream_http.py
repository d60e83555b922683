"""HTTP transports for OpenAI-compatible upstreams: one shared client per provider.

The default is aiohttp. Measured with bench/bench_upstream_client.py (results in
bench/results/gateway_speed.md): a uvicorn proxy forwarding through one shared
``httpx.AsyncClient`` fell to ~60 req/s with a p99 over 3 s at 64 concurrent
clients (≈ 11 ms of proxy CPU per request, most of it in httpcore's pool
bookkeeping), while the same proxy on one ``aiohttp.ClientSession`` served ~600
req/s at < 1 ms CPU per request. An injected ``httpx.AsyncClient`` is still
accepted, so tests can use ``httpx.MockTransport``.

Library exceptions are translated here, at the boundary: a timeout becomes
ProviderTimeout, any other transport failure ProviderConnectionError (the
provider turns either into ProviderStreamError once output has been sent).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from gateway.providers.errors import ProviderConnectionError, ProviderProtocolError, ProviderTimeout

# An SSE event is one line; aiohttp refuses longer lines than its read buffer. 1 MiB
# bounds memory per stream while leaving room for any realistic delta.
MAX_EVENT_BYTES = 1 << 20
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class _Proxy:
    url: URL | None
    auth: aiohttp.BasicAuth | None


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    headers: Mapping[str, str]  # case-insensitive in both implementations
    body: bytes


class UpstreamStream(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes: ...

    def lines(self) -> AsyncIterator[str]: ...


class UpstreamTransport(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def ready(self) -> bool: ...

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], *, timeout: float) -> UpstreamReply:
        """POST JSON, read the whole reply; ProviderTimeout / ProviderConnectionError on failure."""

    def stream(
        self, url: str, body: dict[str, Any], headers: dict[str, str], *, timeout: float
    ) -> Any:  # an async context manager yielding an UpstreamStream
        """POST JSON and read the reply line by line; ``timeout`` bounds each wait for data."""


# -- aiohttp (default) ---------------------------------------------------------------------------

class _AiohttpStream:
    def __init__(self, response: aiohttp.ClientResponse, provider: str) -> None:
        self._response = response
        self._provider = provider
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        with _translated_aiohttp(self._provider):
            return await self._response.read()

    async def lines(self) -> AsyncIterator[str]:
        with _translated_aiohttp(self._provider):
            try:
                async for raw in self._response.content:
                    yield raw.decode("utf-8", "replace").rstrip("\r\n")
            except ValueError as exc:  # aiohttp: "Chunk too big" (a line over the buffer)
                raise ProviderProtocolError(
                    f"stream event longer than {MAX_EVENT_BYTES} bytes", provider=self._provider
                ) from exc


class _translated_aiohttp:
    """Context manager mapping aiohttp/asyncio failures onto ProviderError subclasses."""

    def __init__(self, provider: str) -> None:
        self._provider = provider

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None:
            return False
        # aiohttp's timeout errors are TimeoutError subclasses (and ClientErrors): check first.
        if isinstance(exc, asyncio.TimeoutError):
            raise ProviderTimeout("the upstream did not answer in time", provider=self._provider) from exc
        if isinstance(exc, aiohttp.ClientError):
            raise ProviderConnectionError(
                f"connection failed: {type(exc).__name__}", provider=self._provider
            ) from exc
        return False


class AiohttpTransport:
    """One ``aiohttp.ClientSession`` (created in ``start``, or injected and then not closed)."""

    def __init__(
        self, provider: str, *, session: aiohttp.ClientSession | None = None, max_connections: int = 100
    ) -> None:
        self._provider = provider
        self._session = session
        self._owns = session is None
        self._max = max_connections
        self._proxies: dict[tuple[str, str | None, int | None], _Proxy] = {}

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max, limit_per_host=self._max)
            self._session = aiohttp.ClientSession(
                connector=connector,
                # A default timeout always applies; each call passes its own.
                timeout=aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT_S),
                read_bufsize=MAX_EVENT_BYTES,
                # Proxies come from _proxy_for, not trust_env: see there.
                trust_env=False,
            )

    def _proxy_for(self, url: str) -> _Proxy:
        """HTTP(S)_PROXY / NO_PROXY for ``url``'s origin, as httpx would honour them.

        aiohttp's ``trust_env`` re-reads the environment and ~/.netrc on every request
        (≈ 3% of the gateway's GIL time at 16 clients, py-spy); the environment of a
        running service does not change, so each origin is looked up once. ~/.netrc
        credentials are not used: upstream auth is the configured API key."""
        parsed = URL(url)
        origin = (parsed.scheme, parsed.host, parsed.port)
        if origin not in self._proxies:
            try:
                self._proxies[origin] = _Proxy(*get_env_proxy_for_url(parsed))
            except LookupError:  # no proxy configured for this scheme, or NO_PROXY matches
                self._proxies[origin] = _Proxy(None, None)
        return self._proxies[origin]

    async def close(self) -> None:
        if self._session is not None and self._owns:
            await self._session.close()
            self._session = None

    def ready(self) -> bool:
        return self._session is not None and not self._session.closed

    def _live(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise ProviderConnectionError("the HTTP client is not started", provider=self._provider)
        return self._session

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], *, timeout: float) -> UpstreamReply:
        session = self._live()
        with _translated_aiohttp(self._provider):
            proxy = self._proxy_for(url)
            async with session.post(url, json=body, headers=headers, proxy=proxy.url, proxy_auth=proxy.auth,
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                return UpstreamReply(response.status, response.headers, await response.read())

    @asynccontextmanager
    async def stream(
        self, url: str, body: dict[str, Any], headers: dict[str, str], *, timeout: float
    ) -> AsyncIterator[_AiohttpStream]:
        session = self._live()
        # Like httpx's per-operation timeout: a long generation is fine as long as
        # events keep arriving; silence for ``timeout`` seconds is not.
        limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        with _translated_aiohttp(self._provider):
            proxy = self._proxy_for(url)
            async with session.post(url, json=body, headers=headers, timeout=limits,
                                    proxy=proxy.url, proxy_auth=proxy.auth) as response:
                yield _AiohttpStream(response, self._provider)


# -- httpx (injected clients, e.g. httpx.MockTransport in tests) ---------------------------------

class _HttpxStream:
    def __init__(self, response: httpx.Response, provider: str) -> None:
        self._response = response
        self._provider = provider
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        with _translated_httpx(self._provider):
            return await self._response.aread()

    async def lines(self) -> AsyncIterator[str]:
        with _translated_httpx(self._provider):
            async for line in self._response.aiter_lines():
                yield line


class _translated_httpx:
    def __init__(self, provider: str) -> None:
        self._provider = provider

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, httpx.TimeoutException):
            raise ProviderTimeout("the upstream did not answer in time", provider=self._provider) from exc
        if isinstance(exc, httpx.TransportError):
            raise ProviderConnectionError(
                f"connection failed: {type(exc).__name__}", provider=self._provider
            ) from exc
        return False


class HttpxTransport:
    """An injected ``httpx.AsyncClient``; the caller owns (and closes) it."""

    def __init__(self, provider: str, client: httpx.AsyncClient) -> None:
        self._provider = provider
        self._client = client

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def ready(self) -> bool:
        return not self._client.is_closed

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], *, timeout: float) -> UpstreamReply:
        with _translated_httpx(self._provider):
            response = await self._client.post(url, json=body, headers=headers, timeout=timeout)
        return UpstreamReply(response.status_code, response.headers, response.content)

    @asynccontextmanager
    async def stream(
        self, url: str, body: dict[str, Any], headers: dict[str, str], *, timeout: float
    ) -> AsyncIterator[_HttpxStream]:
        with _translated_httpx(self._provider):
            async with self._client.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
                yield _HttpxStream(response, self._provider)


def make_transport(
    provider: str, client: aiohttp.ClientSession | httpx.AsyncClient | None, max_connections: int
) -> UpstreamTransport:
    if client is None or isinstance(client, aiohttp.ClientSession):
        return AiohttpTransport(provider, session=client, max_connections=max_connections)
    if isinstance(client, httpx.AsyncClient):
        return HttpxTransport(provider, client)
    raise TypeError(f"client must be an aiohttp.ClientSession or httpx.AsyncClient, not {type(client).__name__}")
