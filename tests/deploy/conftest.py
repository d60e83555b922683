"""``ladder serve`` as a real subprocess (signals, exit codes, a second process running
``ladder ingest`` beside it), against a data dir holding a copy of the session's corpus
index, and the fake OpenAI-compatible upstream on a background thread."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.testing.servers import UpstreamServer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is true; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def ladder_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """Only what the test says: no developer LADDER_* variables, .env or ladder.toml."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LADDER_")}
    empty = data_dir / "empty.toml"
    empty.write_text("", encoding="utf-8")
    env.update({
        "LADDER_CONFIG": str(empty),
        "LADDER_DATA_DIR": str(data_dir),
        # The session index was built with the PyTorch embedder; querying it with the same
        # backend also spares each server an ONNX export.
        "LADDER_RETRIEVAL__EMBEDDING_BACKEND": "torch",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(settings)
    return env


@pytest.fixture
def data_dir(tmp_path: Path, corpus_index_root: Path) -> Path:
    """A data dir holding a copy of the session's corpus index (built once, real MiniLM)."""
    target = tmp_path / "data"
    target.mkdir()
    shutil.copytree(corpus_index_root, target / "index")
    return target


@pytest.fixture
def make_key(data_dir: Path):  # type: ignore[no-untyped-def]
    """Create an API key in the data dir's ledger: ``make_key("answers,chat") -> (key, key_id)``."""
    from gateway.auth.keys import KeyStore

    def make(scopes: str) -> tuple[str, str]:
        store = KeyStore(data_dir / "ladder.db")
        store.start()
        try:
            created = store.create("deploy-test", scopes, "employee", rpm=100_000, tpm=100_000_000)
        finally:
            store.close()
        return created.plain_key, created.key.key_id

    return make


class ServeProcess:
    """``ladder serve`` in its own process group; ``stop()`` never leaves it running."""

    def __init__(self, data_dir: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(self.port)],
            cwd=data_dir, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ladder serve exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"ladder serve was not ready within {timeout:.0f}s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def terminate(self) -> float:
        """Send SIGTERM; returns the monotonic time it was sent."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        return sent

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    started: list[ServeProcess] = []

    def start(data_dir: Path, **settings: str) -> ServeProcess:
        process = ServeProcess(data_dir, ladder_env(data_dir, **settings), tmp_path / f"serve-{len(started)}.log")
        started.append(process)
        process.wait_ready()
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def upstream() -> Iterator:
    started: list[UpstreamServer] = []

    def start(**options: float) -> UpstreamServer:
        server = UpstreamServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
