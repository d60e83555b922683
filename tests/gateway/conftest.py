"""The gateway's HTTP API as its users call it, against REAL servers on 127.0.0.1.

Built once per session and shared by every module here:

* the corpus index (``corpus_index_root`` from tests/conftest.py: real MiniLM vectors),
  copied into the gateway's own data dir;
* the fake OpenAI-compatible upstream (``gateway.testing.fake_upstream``) in a thread;
* one uvicorn server with keys required (dev mode off), the response cache off (every
  request is routed, none replayed) and a routing file written for these tests: the
  default alias is the embedded extractive provider, ``ladder-chat`` goes to the
  upstream with retries and falls back to extractive, and ``ladder-breaker`` goes to a
  second provider instance on the same upstream so the circuit-breaker test has a
  breaker of its own;
* on first use, a second server (``cached_gateway``) with the response cache on and the
  upstream's model priced, for the cache, ledger, usage and budget tests.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing.servers import GatewayServer, UpstreamServer, isolated_settings

PROJECT = Path(__file__).resolve().parents[2]

# Short timeouts and cool-downs keep the failure cases fast. Retry-After values up to
# backoff.max_s are waited for; longer ones send the request to the fallback at once.
ROUTING_YAML = """\
providers:
  extractive:
    type: extractive
  upstream:
    type: openai
    base_url: ${settings.providers.openai_base_url}
  flaky-upstream:
    type: openai
    base_url: ${settings.providers.openai_base_url}

models:
  ladder-extractive:
    description: Embedded extractive answers.
    targets:
      - provider: extractive
        model: ladder-extractive
  ladder-chat:
    description: The fake upstream, retried, with extractive as fallback.
    targets:
      - provider: upstream
        model: fake-llm
        timeout_s: %(timeout_s)s
        retries: %(retries)d
    fallback: extractive
  ladder-breaker:
    description: A second upstream instance whose breaker the circuit test trips.
    targets:
      - provider: flaky-upstream
        model: fake-llm
        timeout_s: %(timeout_s)s
        retries: 0
    fallback: extractive

fallback_provider: extractive
circuit:
  failure_threshold: %(threshold)d
  cooldown_s: %(cooldown_s)s
backoff:
  base_s: 0.05
  max_s: 1.0
"""
TIMEOUT_S = 1.0
RETRIES = 2
BREAKER_THRESHOLD = 3
COOLDOWN_S = 2.5  # long enough that the requests of the "open" phase surely fall inside it
ALIASES = {"ladder-extractive", "ladder-chat", "ladder-breaker"}
ALL_SCOPES = "chat,answers,search,roles"


@dataclass
class Gateway:
    url: str
    settings: Any
    app: Any
    upstream: UpstreamServer

    @property
    def services(self) -> Any:
        return self.app.state.services

    def create_key(self, name: str, scopes: str = ALL_SCOPES, audience: str = "manager", **limits: Any) -> str:
        """A key made the way an operator makes one (``ladder keys create``): KeyStore on the
        gateway's ledger database."""
        from gateway.auth.keys import KeyStore

        store = KeyStore(self.settings.ledger_path)
        store.start()
        try:
            return store.create(name, scopes, audience, **limits).plain_key
        finally:
            store.close()

    def revoke_key(self, plain_key: str) -> None:
        from gateway.auth.keys import KeyStore

        store = KeyStore(self.settings.ledger_path)
        store.start()
        try:
            store.revoke(plain_key)
        finally:
            store.close()

    def metric(self, name: str, **labels: str) -> float:
        value = self.services.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else float(value)


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer()
    server.start()
    yield server
    server.stop()


def _start_gateway(
    data_dir: Path, index_root: Path, embedder: Any, upstream: UpstreamServer, *,
    timeout_s: float = TIMEOUT_S, **values: Any,
) -> tuple[GatewayServer, Gateway]:
    from gateway.app import create_app
    from gateway.services import Services

    shutil.copytree(index_root, data_dir / "index")
    routing = data_dir / "routing.yaml"
    routing.write_text(
        ROUTING_YAML % {"timeout_s": timeout_s, "retries": RETRIES, "threshold": BREAKER_THRESHOLD,
                        "cooldown_s": COOLDOWN_S},
        encoding="utf-8",
    )
    providers = {"routing_file": routing, "openai_base_url": upstream.url, "default_model": "ladder-extractive",
                 **values.pop("providers", {})}
    settings = isolated_settings(
        data_dir,
        corpus_paths=[PROJECT / "corpus"],
        retrieval={"embedding_backend": "torch"},
        providers=providers,
        auth={"dev_mode": False, **values.pop("auth", {})},
        **values,
    )
    # The session's warmed MiniLM serves queries too: same weights the index was built with.
    app = create_app(settings, services=Services(settings, embedder=embedder))
    server = GatewayServer(app)
    server.start()
    return server, Gateway(url=server.url, settings=settings, app=app, upstream=upstream)


@pytest.fixture(scope="session")
def start_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    corpus_index_root: Path,
    torch_embedder: Any,
    upstream: UpstreamServer,
) -> Iterator[Callable[..., Gateway]]:
    """Start a session-long server over the corpus index with these settings overrides
    (``start("name", cache={...}, auth={...})``); all are stopped at the end."""
    servers: list[GatewayServer] = []

    def start(name: str, **values: Any) -> Gateway:
        server, gw = _start_gateway(tmp_path_factory.mktemp(name), corpus_index_root, torch_embedder, upstream,
                                    **values)
        servers.append(server)
        return gw

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    return start_gateway("gateway-data", cache={"enabled": False})


@pytest.fixture(scope="session")
def dev_gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    """``ladder serve --dev``: anonymous requests allowed (the README's first command)."""
    return start_gateway("gateway-dev", auth={"dev_mode": True}, cache={"enabled": False})


# The fake upstream's model gets a price (the real file has none for it), so costs, budgets
# and "a cache hit costs 0" are checked with non-zero amounts.
FAKE_LLM_PRICE = {"input_per_mtok": 10.0, "output_per_mtok": 30.0}


@pytest.fixture(scope="session")
def cached_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    corpus_index_root: Path,
    torch_embedder: Any,
    upstream: UpstreamServer,
) -> Iterator[Gateway]:
    """A second server, like ``gateway`` but with the response cache ON and a pricing file
    that prices the upstream's ``fake-llm``: for the cache, ledger, usage and budget tests."""
    import yaml

    from gateway.settings import ProviderSettings

    data_dir = tmp_path_factory.mktemp("cached-gateway-data")
    pricing = yaml.safe_load(ProviderSettings().pricing_file.read_text(encoding="utf-8"))
    pricing["models"]["fake-llm"] = {
        "provider": "upstream",
        "prices": [{"effective": "2000-01-01", **FAKE_LLM_PRICE, "note": "tests only"}],
    }
    pricing_file = data_dir / "pricing.yaml"
    pricing_file.write_text(yaml.safe_dump(pricing, sort_keys=False), encoding="utf-8")
    server, gw = _start_gateway(
        data_dir, corpus_index_root, torch_embedder, upstream,
        cache={"enabled": True}, providers={"pricing_file": pricing_file},
        # Nothing here tests timeouts: a loaded machine must not turn a priced upstream
        # answer into a free extractive fallback.
        timeout_s=30.0,
    )
    yield gw
    server.stop()


@pytest.fixture(scope="session")
def api_key(gateway: Gateway) -> str:
    # A generous per-minute allowance: the suite sends many requests with this key.
    return gateway.create_key("tests-gateway", ALL_SCOPES, rpm=100_000, tpm=100_000_000)


@pytest.fixture(scope="session")
def http(gateway: Gateway, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {api_key}"}, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def sdk(gateway: Gateway, api_key: str) -> Any:
    from openai import OpenAI

    # No SDK retries: a test must see the first answer the gateway gives.
    return OpenAI(base_url=f"{gateway.url}/v1", api_key=api_key, max_retries=0, timeout=60)


def wait_until(predicate: Any, timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The one error shape every failure has: JSON ``{"error": {message, type, code, param}}``,
    never a stack trace."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["type"], str) and error["type"], error
    assert "Traceback" not in response.text and 'File "' not in response.text
    if code is not None:
        assert error["code"] == code, error
    return error

