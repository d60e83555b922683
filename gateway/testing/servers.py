"""Real servers on 127.0.0.1, in background threads, for tests and benchmarks.

A documented test harness shipped with the code; nothing on a production path imports it.

* ``GatewayServer`` runs an ASGI app (the FastAPI gateway, lifespan included) under
  uvicorn in a daemon thread.
* ``UpstreamServer`` runs ``gateway.testing.fake_upstream`` (the OpenAI-compatible test
  double) on its own event loop in another thread, and drives it over HTTP the way any
  client would (``control``, ``reset``, ``stats``).
* ``isolated_settings`` builds a ``Settings`` from what the caller passes and nothing
  else: no developer ``LADDER_*`` variables, ``.env`` or ``ladder.toml``.

Each server gets an already-bound socket, so no other process can take the port between
choosing it and listening on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from gateway.settings import Settings

KEEP_ALIVE_S = 120


def loopback_socket() -> socket.socket:
    """A TCP socket bound to an ephemeral port on 127.0.0.1 (not listening yet)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class GatewayServer:
    """uvicorn serving one app (lifespan included) from a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self._sock = loopback_socket()
        self.port: int = self._sock.getsockname()[1]
        # Test clients share this process, and its GIL, with the server: under a burst they
        # can be starved for seconds between a response and their next request. uvicorn's
        # 5 s keep-alive would then close connections just as they are reused (the client
        # sees ConnectionResetError/BrokenPipe on a request the server never read).
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                timeout_keep_alive=KEEP_ALIVE_S)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"gateway-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self._sock])
        except SystemExit:
            pass  # uvicorn's answer to a failed lifespan; start() reports it

    def start(self, timeout_s: float = 300.0) -> None:
        """Start serving and wait until the lifespan (warm-up included) has finished."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the gateway exited during start-up (its lifespan failed; see the log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start within {timeout_s:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


class UpstreamServer:
    """The fake OpenAI-compatible upstream, controlled over HTTP like any client would.

    ``fake`` is the ``FakeUpstream`` itself, for callers that read its counters or set
    its mode directly; the options are ``FakeUpstream``'s own.
    """

    def __init__(self, *, latency_ms: float = 0.0, retry_after: float = 1.0, hang_s: float = 30.0) -> None:
        from aiohttp import web

        from gateway.testing.fake_upstream import FakeUpstream

        self._web = web
        self.fake = FakeUpstream(latency_ms=latency_ms, retry_after=retry_after, hang_s=hang_s)
        self._sock = loopback_socket()
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        # A short shutdown grace: handlers still sleeping are cancelled by stop() anyway.
        self._runner = web.AppRunner(self.fake.app(), access_log=None, shutdown_timeout=1)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-upstream", daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI base URL (what ``providers.openai_base_url`` takes)."""
        return f"{self.root}/v1"

    def _serve(self) -> None:
        # Everything on the thread's own loop: the calling thread may already run one
        # (Playwright's sync API does).
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(self._web.SockSite(self._runner, self._sock).start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> UpstreamServer:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake upstream did not start")
        return self

    def control(self, mode: str, times: int | None = None, **knobs: object) -> None:
        """``POST /_control``: ``mode`` for the next ``times`` requests (None: until changed)."""
        body: dict[str, object] = {"mode": mode, "times": times, **knobs}
        httpx.post(f"{self.root}/_control", json=body, timeout=5).raise_for_status()

    def reset(self) -> None:
        httpx.post(f"{self.root}/_reset", timeout=5).raise_for_status()

    def stats(self) -> dict[str, int]:
        response = httpx.get(f"{self.root}/_stats", timeout=5)
        response.raise_for_status()
        return {k: int(v) for k, v in response.json().items()}

    def requests(self) -> int:
        return sum(self.stats().values())

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        # Handlers still sleeping (the "timeout" mode) are cancelled, not abandoned.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._sock.close()


@contextlib.contextmanager
def isolated_config(data_dir: Path) -> Iterator[None]:
    """Inside: no ``LADDER_*`` variables but ``LADDER_CONFIG`` naming an empty file, and
    ``data_dir`` as the working directory (so no ``.env`` or ``ladder.toml`` is found).
    Both are restored on exit."""
    config = data_dir / "empty.toml"
    config.write_text("", encoding="utf-8")
    saved = {k: v for k, v in os.environ.items() if k.startswith("LADDER_")}
    for key in saved:
        del os.environ[key]
    os.environ["LADDER_CONFIG"] = str(config)
    try:
        with contextlib.chdir(data_dir):
            yield
    finally:
        for key in [k for k in os.environ if k.startswith("LADDER_")]:
            del os.environ[key]
        os.environ.update(saved)


def isolated_settings(data_dir: Path, **values: Any) -> Settings:
    """``Settings(data_dir=data_dir, **values)``, built from only what the caller says."""
    from gateway.settings import Settings

    with isolated_config(data_dir):
        return Settings(data_dir=data_dir, **values)
