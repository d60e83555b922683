"""The pre-fork supervisor on its own: restarts, giving up on start-up failures, shutdown.

Real forked processes (no server): each worker records its pid in a file and behaves as
the test says; the supervisor runs in a thread of the test process and is stopped the
way the signal handler stops it."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from gateway.cli import prefork
from gateway.cli.prefork import Supervisor, preforkable
from gateway.settings import load_settings
from tests.deploy.conftest import wait_for


def _pids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir())


def _run_in_thread(supervisor: Supervisor) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    # Signal handlers can only be installed from the main thread: stand in for run().
    thread = threading.Thread(target=lambda: result.append(supervisor._supervise()))
    thread.start()
    return thread, result


def test_workers_run_and_stop_on_request(tmp_path: Path) -> None:
    def worker() -> None:
        (tmp_path / str(os.getpid())).touch()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait(30)

    supervisor = Supervisor(worker, 3, stop_timeout_s=10)
    thread, result = _run_in_thread(supervisor)
    wait_for(lambda: len(_pids(tmp_path)) == 3, 20, "the workers")
    supervisor.stop()
    thread.join(20)
    assert result == [0] and supervisor.restarts == 0
    for pid in _pids(tmp_path):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_that_dies_later_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefork, "START_GRACE_S", 0.2)

    def worker() -> None:
        (tmp_path / str(os.getpid())).touch()
        if len(_pids(tmp_path)) == 1:
            time.sleep(0.5)
            os._exit(1)  # the first worker crashes after its start-up grace
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait(30)

    supervisor = Supervisor(worker, 2, stop_timeout_s=10)
    thread, result = _run_in_thread(supervisor)
    wait_for(lambda: supervisor.restarts == 1 and len(_pids(tmp_path)) == 3, 20, "the workers")
    supervisor.stop()
    thread.join(20)
    assert result == [0]


def test_workers_that_keep_failing_at_start_up_stop_the_service(tmp_path: Path) -> None:
    def worker() -> None:
        (tmp_path / str(os.getpid())).touch()
        os._exit(3)  # e.g. the ledger cannot be opened

    supervisor = Supervisor(worker, 2, stop_timeout_s=5)
    thread, result = _run_in_thread(supervisor)
    thread.join(30)
    assert result == [prefork.START_FAILED_EXIT]
    assert len(_pids(tmp_path)) <= 2 + prefork.MAX_START_FAILURES


def test_a_worker_that_ignores_the_stop_request_is_killed(tmp_path: Path) -> None:
    def worker() -> None:
        (tmp_path / str(os.getpid())).touch()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)

    supervisor = Supervisor(worker, 1, stop_timeout_s=0.5)
    thread, result = _run_in_thread(supervisor)
    wait_for(lambda: len(_pids(tmp_path)) == 1, 20, "the workers")
    started = time.monotonic()
    supervisor.stop()
    thread.join(20)
    assert result == [1] and time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(_pids(tmp_path)[0], 0)


@pytest.mark.parametrize(
    ("retrieval", "expected"),
    [
        ({}, True),
        ({"embedding_backend": "onnx-int8"}, True),
        ({"embedding_threads": 1}, True),
        ({"embedding_threads": 2}, False),  # its thread pool would not survive the fork
        ({"embedding_backend": "torch"}, False),
    ],
)
def test_only_a_single_threaded_onnx_embedder_is_shared_across_the_fork(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retrieval: dict[str, object], expected: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    assert preforkable(load_settings(workers=2, retrieval=retrieval)) is expected
