"""Several worker processes sharing one load of the models (``ladder serve --workers N``).

uvicorn's own multi-worker mode starts every worker from scratch, so each one loads the
ONNX model, the BPE tables and the index again: about 400 MB a worker. Here the parent
loads those read-only parts once, binds the socket and forks the workers; the loaded
pages stay shared between them until written (copy-on-write). Each worker then opens
what has to be its own - the SQLite ledger and key store, the upstream HTTP session,
its event loop - in the app lifespan, as a single process does.

Fork safety: nothing in the parent runs a thread when it forks. It loads synchronously
(no event loop, no worker threads), and the ONNX session computes on its caller's thread
(one intra-op thread: a thread pool made before the fork would not exist in the
children). The PyTorch backend, or an explicit multi-threaded ONNX setting, keeps
uvicorn's spawn mode instead (see ``preforkable``).

The parent only supervises: it restarts a worker that dies (a fresh fork of the loaded
state takes milliseconds), gives up when workers keep dying at start-up, relays SIGHUP to
every worker (each then loads the newest index; ``POST /v1/admin/reload`` on any worker
sends it), and on SIGTERM or SIGINT asks every worker to drain (each has the
single-process shutdown budget and watchdog) and kills any still running after that budget.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger("ladder.serve")

# A worker that exits sooner than this after its fork failed to start, not crashed later.
START_GRACE_S = 10.0
# Consecutive start-up failures after which the supervisor stops trying (exit status 3,
# as for a single process whose lifespan failed).
MAX_START_FAILURES = 3
START_FAILED_EXIT = 3
_PREFORK_BACKENDS = frozenset({"onnx", "onnx-int8"})


def preforkable(settings: Settings) -> bool:
    """Whether the workers can share one load: an ONNX backend on one thread per worker."""
    retrieval = settings.retrieval
    return retrieval.embedding_backend in _PREFORK_BACKENDS and retrieval.embedding_threads in (None, 1)


class Supervisor:
    """Keeps ``workers`` forked processes running ``target`` until told to stop."""

    def __init__(self, target: Callable[[], None], workers: int, *, stop_timeout_s: float) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._target = target
        self._workers = workers
        self._stop_timeout_s = stop_timeout_s
        self._context = multiprocessing.get_context("fork")
        self._stopping = threading.Event()
        self._relay = threading.Event()
        self.restarts = 0

    def stop(self) -> None:
        self._stopping.set()

    def reload(self) -> None:
        """Relay a reload (SIGHUP) to every worker; sent by a worker after
        ``POST /v1/admin/reload``, or by an operator (``kill -HUP <parent pid>``)."""
        self._relay.set()

    def _fork(self) -> tuple[BaseProcess, float]:
        process = self._context.Process(target=self._target, daemon=False)
        process.start()
        return process, time.monotonic()

    def run(self) -> int:
        """Start the workers and supervise them; returns the exit status for the parent."""
        previous = {sig: signal.signal(sig, lambda *_: self.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: self.reload())
        try:
            return self._supervise()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _supervise(self) -> int:
        children = [self._fork() for _ in range(self._workers)]
        failures = 0
        status = 0
        while not self._stopping.is_set():
            wait([process.sentinel for process, _ in children], timeout=0.5)
            if self._relay.is_set():
                self._relay.clear()
                for process, _ in children:
                    if process.exitcode is None and process.pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(process.pid, signal.SIGHUP)
            for slot, (process, started) in enumerate(children):
                if process.exitcode is None or self._stopping.is_set():
                    continue
                early = time.monotonic() - started < START_GRACE_S
                failures = failures + 1 if early else 0
                log.warning("worker %d (pid %s) exited with status %s%s", slot, process.pid, process.exitcode,
                            " during start-up" if early else "")
                if failures >= MAX_START_FAILURES:
                    log.error("workers failed to start %d times in a row; stopping", failures)
                    self._stopping.set()
                    status = START_FAILED_EXIT
                    break
                children[slot] = self._fork()
                self.restarts += 1
        return self._shut_down([process for process, _ in children]) or status

    def _shut_down(self, processes: list[BaseProcess]) -> int:
        for process in processes:
            if process.exitcode is None and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout_s
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        stragglers = [p for p in processes if p.exitcode is None]
        for process in stragglers:
            log.error("worker pid %s did not stop within %.1fs; killing it", process.pid, self._stop_timeout_s)
            process.kill()
            process.join(5)
        return 1 if stragglers else 0


def _export_elsewhere(settings: Settings) -> None:
    """Export the ONNX model in a child process when it is not cached yet: the export runs
    PyTorch, whose thread pools must not be in the parent when it forks the workers."""
    from retrieval.embedding.model_path import minilm_path
    from retrieval.embedding.onnx_export import ensure_exported, is_valid, model_file

    quantized = settings.retrieval.embedding_backend == "onnx-int8"
    if is_valid(model_file(minilm_path(), settings.model_cache_dir, quantized)):
        return
    export = multiprocessing.get_context("spawn").Process(
        target=ensure_exported, args=(minilm_path(), settings.model_cache_dir), kwargs={"quantized": quantized},
    )
    export.start()
    export.join()
    # A failed export is reported again, with its reason, when the parent loads the model.


def serve_preforked(settings: Settings, uvicorn_options: dict[str, Any], server_class: type) -> int:
    """Load once, fork ``settings.workers`` uvicorn servers on one socket, supervise them."""
    import uvicorn

    from gateway.app import create_app
    from gateway.observability.setup import observe_services
    from gateway.services import Services

    _export_elsewhere(settings)
    # One ONNX thread per worker, whatever the core count (see the module docstring).
    retrieval = settings.retrieval.model_copy(update={"embedding_threads": 1})
    settings = settings.model_copy(update={"retrieval": retrieval})
    services = Services(settings)
    services.supervisor_pid = os.getpid()  # the workers ask this process to relay reloads
    observe_services(services)  # the parent's own lines (worker restarts) in the configured format
    try:
        services.load()
    except Exception as exc:  # noqa: BLE001 - no index yet, an unreadable model...: say what, not a traceback
        log.error("ladder could not start: %s", exc)
        return START_FAILED_EXIT
    app = create_app(settings, services=services)
    config = uvicorn.Config(app, **uvicorn_options)
    sock = config.bind_socket()
    # Everything loaded so far is moved out of the collector's reach: a collection would
    # otherwise write to every object's header and copy the pages the workers share.
    gc.freeze()

    def worker() -> None:
        server = server_class(config, deadline_s=settings.shutdown_timeout_s)
        server.run(sockets=[sock])
        if not server.started:
            sys.exit(START_FAILED_EXIT)  # the lifespan failed; uvicorn has logged why

    supervisor = Supervisor(worker, settings.workers, stop_timeout_s=settings.shutdown_timeout_s + 2.0)
    try:
        return supervisor.run()
    finally:
        sock.close()
