"""Browser tests of the chat page against REAL gateways on 127.0.0.1.

Built once per session: the corpus index (real MiniLM embeddings), two uvicorn
servers in background threads - one in dev mode (anonymous), one requiring keys
whose default model goes through a local OpenAI-compatible upstream that can be
told to fail - and one headless Chromium. Each test gets a fresh browser context
(its own localStorage).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

PROJECT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


def _loopback_socket() -> socket.socket:
    # The server gets the bound socket itself: no window in which another process
    # could take a port we picked and released.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class ServerThread:
    """uvicorn serving one app on 127.0.0.1 from a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self._sock = _loopback_socket()
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self._sock])
        except SystemExit:
            pass  # uvicorn's answer to a failed lifespan; start() reports it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 300.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the gateway exited during start-up (its lifespan failed; see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start within {timeout_s:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


class UpstreamThread:
    """gateway.testing.fake_upstream (an OpenAI-compatible test double) on its own loop."""

    def __init__(self) -> None:
        from aiohttp import web

        from gateway.testing.fake_upstream import FakeUpstream

        self._web = web
        self.fake = FakeUpstream()
        self._sock = _loopback_socket()
        self.port = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.fake.app(), access_log=None)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-upstream", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        # Everything on the thread's own loop: the test thread may already run one
        # (Playwright's sync API does).
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(self._web.SockSite(self._runner, self._sock).start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake upstream did not start")

    def set_mode(self, mode: str, times: int | None = None) -> None:
        body: dict[str, object] = {"mode": mode}
        if times is not None:
            body["times"] = times
        httpx.post(f"http://127.0.0.1:{self.port}/_control", json=body, timeout=5).raise_for_status()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._sock.close()


@dataclass
class Gateway:
    url: str
    settings: Any
    app: Any
    upstream: UpstreamThread | None = None
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


def _settings(data_dir: Path, **overrides: Any) -> Any:
    from gateway.settings import Settings

    # Only what the test says: no developer LADDER_* variables, .env or ladder.toml.
    config = data_dir / "empty.toml"
    config.write_text("", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("LADDER_"):
                mp.delenv(key)
        mp.setenv("LADDER_CONFIG", str(config))
        mp.chdir(data_dir)
        return Settings(
            data_dir=data_dir,
            corpus_paths=[PROJECT / "corpus"],
            retrieval={"embedding_backend": "torch"},
            **overrides,
        )


@pytest.fixture(scope="session")
def web_embedder(torch_embedder: Any) -> Any:
    return torch_embedder


@pytest.fixture(scope="session")
def web_index(corpus_index_root: Path) -> Path:
    """The session's corpus index (tests/conftest.py: real MiniLM vectors, built once);
    each server gets a copy under its own data dir."""
    return corpus_index_root


def _start_gateway(data_dir: Path, index: Path, embedder: Any, **overrides: Any) -> tuple[ServerThread, Gateway]:
    from gateway.app import create_app
    from gateway.services import Services

    shutil.copytree(index, data_dir / "index")
    settings = _settings(data_dir, **overrides)
    app = create_app(settings, services=Services(settings, embedder=embedder))
    server = ServerThread(app)
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
    upstream = UpstreamThread()
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
