"""The model pool: model calls on their own threads, bounded, first come first served,
in the caller's context; queued calls dropped at close. Real threads, no model."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from gateway.model_pool import ModelPool

REQUEST = contextvars.ContextVar("request", default="none")


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_call_runs_off_the_loop_thread_in_the_callers_context() -> None:
    pool = ModelPool(2)
    pool.start()

    async def main() -> tuple[str, str, str]:
        REQUEST.set("req-7")
        return await pool.run(lambda: (threading.current_thread().name, REQUEST.get(),
                                       threading.main_thread().name))

    try:
        name, seen, main_name = run(main())
    finally:
        pool.close()
    assert name.startswith("ladder-model") and name != main_name
    assert seen == "req-7"


def test_at_most_threads_calls_at_once_and_first_come_first_served() -> None:
    pool = ModelPool(2)
    pool.start()
    lock = threading.Lock()
    running, peak, order = 0, 0, []

    def call(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            order.append(i)
        time.sleep(0.02)
        with lock:
            running -= 1
        return i * i

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(lambda i=i: call(i)) for i in range(10)))

    try:
        results = run(main())
    finally:
        pool.close()
    assert results == [i * i for i in range(10)]
    assert peak == 2
    # Two threads take calls off one FIFO queue: a call never starts before one queued
    # two places ahead of it.
    assert all(order.index(i) <= i + 1 for i in range(10)), order


def test_an_exception_reaches_the_caller() -> None:
    pool = ModelPool(1)
    pool.start()

    def fail() -> None:
        raise ValueError("bad batch")

    try:
        with pytest.raises(ValueError, match="bad batch"):
            run(pool.run(fail))
    finally:
        pool.close()


def test_close_drops_queued_calls_and_refuses_new_ones() -> None:
    pool = ModelPool(1)
    pool.start()
    release = threading.Event()
    ran: list[str] = []

    async def main() -> list[object]:
        first = asyncio.ensure_future(pool.run(lambda: (release.wait(5), ran.append("first"))))
        queued = asyncio.ensure_future(pool.run(lambda: ran.append("queued")))
        await asyncio.sleep(0.05)  # the first call is running, the second waits behind it
        pool.close()
        release.set()
        return await asyncio.gather(first, queued, return_exceptions=True)

    outcomes = run(main())
    assert ran == ["first"]
    assert isinstance(outcomes[1], asyncio.CancelledError)
    with pytest.raises(RuntimeError, match="before start"):
        run(pool.run(lambda: None))


def test_no_threads_before_start_and_at_least_one_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    pool = ModelPool(3)
    assert {t.name for t in threading.enumerate()} == before
    with pytest.raises(RuntimeError, match="before start"):
        run(pool.run(lambda: None))
    with pytest.raises(ValueError, match="at least 1"):
        ModelPool(0)
