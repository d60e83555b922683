"""Browser tests of the chat page against REAL gateways on 127.0.0.1.

Built once per session: the corpus index (real MiniLM embeddings), two uvicorn
servers in background threads - one in dev mode (anonymous), one requiring keys
whose default model goes through a local OpenAI-compatible upstream that can be
told to fail - and one headless Chromium. Each test gets a fresh browser context
(its own localStorage).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway.testing.servers import GatewayServer, UpstreamServer, isolated_settings

PROJECT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


@dataclass
class Gateway:
    url: str
    settings: Any
    app: Any
    upstream: UpstreamServer | None = None
    keys: dict[str, str] = field(default_factory=dict)  # name -> plain key

    def create_key(self, name: str, **limits: Any) -> str:
        from gateway.auth.keys import KeyStore

        store = KeyStore(self.settings.ledger_path)
        store.start()
        try:
            plain = store.create(name, "chat,roles", "employee", **limits).plain_key
        finally:
            store.close()
        self.keys[name] = plain
        return plain


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        pytest.skip(
            f"BROWSER TESTS DID NOT RUN: {CHROMIUM} is missing. Install Debian's Chromium "
            "(`apt-get install -y chromium`) to run tests/web (never `playwright install`)."
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def web_embedder(torch_embedder: Any) -> Any:
    return torch_embedder


@pytest.fixture(scope="session")
def web_index(corpus_index_root: Path) -> Path:
    """The session's corpus index (tests/conftest.py: real MiniLM vectors, built once);
    each server gets a copy under its own data dir."""
    return corpus_index_root


def _start_gateway(data_dir: Path, index: Path, embedder: Any, **overrides: Any) -> tuple[GatewayServer, Gateway]:
    from gateway.app import create_app
    from gateway.services import Services

    shutil.copytree(index, data_dir / "index")
    # Only what the test says: no developer LADDER_* variables, .env or ladder.toml.
    settings = isolated_settings(
        data_dir, corpus_paths=[PROJECT / "corpus"], retrieval={"embedding_backend": "torch"}, **overrides
    )
    app = create_app(settings, services=Services(settings, embedder=embedder))
    server = GatewayServer(app)
    server.start()
    return server, Gateway(url=server.url, settings=settings, app=app)


@pytest.fixture(scope="session")
def dev_gateway(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory, web_index: Path, web_embedder: Any
) -> Iterator[Gateway]:
    """Anonymous requests allowed (``ladder serve --dev``); the embedded extractive model.
    The response cache is off so every question in the page takes the live streaming path
    (a cached answer would replay through a different one)."""
    server, gateway = _start_gateway(
        tmp_path_factory.mktemp("web-dev"), web_index, web_embedder,
        auth={"dev_mode": True}, cache={"enabled": False},
    )
    yield gateway
    server.stop()


@pytest.fixture(scope="session")
def keyed_gateway(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory, web_index: Path, web_embedder: Any
) -> Iterator[Gateway]:
    """Keys required; the default model is an OpenAI-compatible upstream we can break."""
    upstream = UpstreamServer()
    upstream.start()
    server, gateway = _start_gateway(
        tmp_path_factory.mktemp("web-keyed"), web_index, web_embedder,
        providers={"openai_base_url": upstream.url, "default_model": "ladder-chat"},
    )
    gateway.upstream = upstream
    yield gateway
    server.stop()
    upstream.stop()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class PageProblems(list[str]):
    """Uncaught page errors and CSP violations seen during one test."""


def _open_page(browser: Any, base_url: str, viewport: dict[str, int]) -> tuple[Any, Any, PageProblems]:
    context = browser.new_context(base_url=base_url, viewport=viewport)
    context.set_default_timeout(30_000)
    page = context.new_page()
    problems = PageProblems()
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}")
        if "Content Security Policy" in msg.text or msg.type == "error" and "Failed to load resource" not in msg.text
        else None,
    )
    return context, page, problems


@pytest.fixture
def dev_page(browser: Any, dev_gateway: Gateway) -> Iterator[Any]:
    context, page, problems = _open_page(browser, dev_gateway.url, DESKTOP)
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def phone_page(browser: Any, dev_gateway: Gateway) -> Iterator[Any]:
    context, page, problems = _open_page(browser, dev_gateway.url, PHONE)
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def keyed_page(browser: Any, keyed_gateway: Gateway) -> Iterator[Any]:
    context, page, problems = _open_page(browser, keyed_gateway.url, DESKTOP)
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """A skipped browser suite must be impossible to miss in the summary."""
    reasons = {
        str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        for report in terminalreporter.stats.get("skipped", [])
    }
    for reason in sorted(r for r in reasons if "BROWSER TESTS DID NOT RUN" in r):
        terminalreporter.write_sep("!", reason.removeprefix("Skipped: "), red=True, bold=True)
