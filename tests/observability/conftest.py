"""Real gateways for the observability tests: uvicorn on 127.0.0.1 in a background thread,
the corpus index (real MiniLM vectors, tests/conftest.py), the in-memory span exporter.

Built once per session and shared by the modules here (tests tell their requests apart
by trace id and compare metrics before and after): one gateway with content capture off
(the default) and one with it on.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from gateway.testing.servers import GatewayServer, isolated_settings

T = TypeVar("T")
PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class Gateway:
    url: str
    app: Any
    settings: Any
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (key id, plain key)

    @property
    def services(self) -> Any:
        return self.app.state.services

    @property
    def exporter(self) -> Any:
        return self.services.telemetry.exporter

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, headers=headers)

    def create_key(self, name: str, scopes: str = "chat,answers,search,roles") -> tuple[str, str]:
        from gateway.auth.keys import KeyStore

        store = KeyStore(self.settings.ledger_path)
        store.start()
        try:
            created = store.create(name, scopes, "employee")
        finally:
            store.close()
        self.keys[name] = (created.key.key_id, created.plain_key)
        return self.keys[name]

    # -- spans -------------------------------------------------------------------------
    def spans(self, trace_id: str) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]

    def trace(self, trace_id: str) -> list[ReadableSpan]:
        """The finished spans of one request. The server span ends just after the last
        byte is sent, so the client can be a moment ahead of it: wait for it."""
        def finished() -> list[ReadableSpan] | None:
            spans = self.spans(trace_id)
            return spans if any(s.kind == SpanKind.SERVER for s in spans) else None

        return wait_for(finished, f"the server span of trace {trace_id}")


def wait_for(probe: Callable[[], T | None], what: str, timeout_s: float = 10.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def _boom() -> None:
    raise RuntimeError("unexpected failure while serving jane.roe@example.com")


@pytest.fixture(scope="session")
def start_gateway(
    tmp_path_factory: pytest.TempPathFactory, corpus_index_root: Path, torch_embedder: Any
) -> Iterator[Callable[..., Gateway]]:
    from gateway.app import create_app
    from gateway.services import Services

    servers: list[GatewayServer] = []

    def start(**telemetry: Any) -> Gateway:
        data_dir = tmp_path_factory.mktemp("obs-gateway")
        shutil.copytree(corpus_index_root, data_dir / "index")
        # Only what the test says: no developer LADDER_* variables, .env or ladder.toml.
        settings = isolated_settings(data_dir, auth={"dev_mode": True}, retrieval={"embedding_backend": "torch"},
                                     telemetry={"exporter": "memory", **telemetry})
        # The session's warmed-up MiniLM: the same model the index was built with.
        app = create_app(settings, services=Services(settings, embedder=torch_embedder))
        app.add_api_route("/test/boom", _boom)  # an unhandled error, to see how a 500 is observed
        server = GatewayServer(app)
        server.start()
        servers.append(server)
        return Gateway(url=server.url, app=app, settings=settings)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    return start_gateway()


@pytest.fixture(scope="session")
def capturing_gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    return start_gateway(capture_content=True)
