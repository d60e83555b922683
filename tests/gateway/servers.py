"""Real servers on 127.0.0.1 for the gateway's integration tests.

``GatewayServer`` runs the FastAPI app under uvicorn in a background thread;
``UpstreamServer`` runs ``gateway.testing.fake_upstream`` (the OpenAI-compatible
test double) on its own event loop in another thread. Each gets an already-bound
socket, so no other process can take the port between choosing and listening.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx

KEEP_ALIVE_S = 120


def loopback_socket() -> socket.socket:
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
        self.port = self._sock.getsockname()[1]
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
    """The fake OpenAI-compatible upstream, controlled over HTTP like any client would."""

    def __init__(self) -> None:
        from aiohttp import web

        from gateway.testing.fake_upstream import FakeUpstream

        self._web = web
        self.fake = FakeUpstream()
        self._sock = loopback_socket()
        self.port = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.fake.app(), access_log=None)
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
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(self._web.SockSite(self._runner, self._sock).start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake upstream did not start")

    def control(self, mode: str, times: int | None = None, **knobs: object) -> None:
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

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._sock.close()
