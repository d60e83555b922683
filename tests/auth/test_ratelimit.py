"""Token-bucket limits: exact under concurrency, honest Retry-After, refill over time."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.auth.principal import Principal
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.scopes import Audience, Scope
from gateway.errors import RateLimited

from .conftest import FakeClock


def outcome(limiter: RateLimiter, key: str, **kwargs: int) -> bool:
    try:
        limiter.check(key, **kwargs)
        return True
    except RateLimited:
        return False


def test_fifty_threads_against_a_limit_of_twenty_let_exactly_twenty_through(
    clock: FakeClock,
) -> None:
    limiter = RateLimiter(clock=clock)
    barrier = threading.Barrier(50)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        ok = outcome(limiter, "k", rpm=20, tpm=1_000_000, tokens=10)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 50 and sum(results) == 20


async def test_fifty_concurrent_async_requests_let_exactly_twenty_through(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)

    async def request(i: int) -> bool:
        await asyncio.sleep(0)  # interleave the coroutines before they check
        if i % 2:  # half of them check from worker threads, as sync routes would
            return await asyncio.to_thread(outcome, limiter, "k", rpm=20, tpm=10**6, tokens=5)
        return outcome(limiter, "k", rpm=20, tpm=10**6, tokens=5)

    results = await asyncio.gather(*(request(i) for i in range(50)))
    assert sum(results) == 20


def test_tokens_per_minute_is_exact_under_threads(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    barrier = threading.Barrier(50)
    results: list[bool] = []

    def worker() -> None:
        barrier.wait()
        results.append(outcome(limiter, "k", rpm=1000, tpm=2000, tokens=100))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 20


def test_retry_after_is_the_time_to_refill_and_then_it_passes(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    for _ in range(6):
        limiter.check("k", rpm=6, tpm=10_000)
    with pytest.raises(RateLimited) as caught:
        limiter.check("k", rpm=6, tpm=10_000)
    assert caught.value.retry_after == pytest.approx(10.0)  # 6/min = one every 10 s
    assert caught.value.status_code == 429 and caught.value.code == "rate_limited_requests"
    clock.now += 9.9
    assert not outcome(limiter, "k", rpm=6, tpm=10_000)
    clock.now += 0.1
    assert outcome(limiter, "k", rpm=6, tpm=10_000)


def test_keys_are_limited_independently(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    assert outcome(limiter, "a", rpm=1, tpm=100)
    assert not outcome(limiter, "a", rpm=1, tpm=100)
    assert outcome(limiter, "b", rpm=1, tpm=100)


def test_refused_requests_do_not_spend_anything(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    assert outcome(limiter, "k", rpm=10, tpm=1000, tokens=900)
    assert not outcome(limiter, "k", rpm=10, tpm=1000, tokens=200)  # tokens short
    assert limiter.remaining("k", rpm=10, tpm=1000) == (9.0, 100.0)  # the request slot was kept


def test_completion_tokens_charged_afterwards_hold_off_the_next_request(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    limiter.check("k", rpm=100, tpm=600, tokens=100)
    limiter.charge_tokens("k", 700, tpm=600)  # the answer was long: level is now -200
    with pytest.raises(RateLimited) as caught:
        limiter.check("k", rpm=100, tpm=600, tokens=10)
    assert caught.value.code == "rate_limited_tokens"
    assert caught.value.retry_after == pytest.approx(21.0)  # (10 + 200) / (600 / 60)


def test_an_oversized_request_is_admitted_on_a_full_bucket_only(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    assert outcome(limiter, "k", rpm=100, tpm=1000, tokens=5000)
    assert not outcome(limiter, "k", rpm=100, tpm=1000, tokens=1)
    # 4000 owed at 1000/min: 4 minutes to reach zero, a 5th to be full again
    clock.now += 60 * 4.5
    assert not outcome(limiter, "k", rpm=100, tpm=1000, tokens=5000)
    clock.now += 30
    assert outcome(limiter, "k", rpm=100, tpm=1000, tokens=5000)


def test_admit_uses_the_principals_limits(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    principal = Principal("k", "n", frozenset({Scope.CHAT}), Audience.EMPLOYEE, 2, 1000, None)
    limiter.admit(principal, 10)
    limiter.admit(principal, 10)
    with pytest.raises(RateLimited):
        limiter.admit(principal, 10)


def test_idle_buckets_are_forgotten_when_the_table_is_full(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, max_keys=10)
    for i in range(10):
        limiter.check(f"k{i}", rpm=60, tpm=1000)
    clock.now += 120
    limiter.check("new", rpm=60, tpm=1000)
    assert len(limiter._requests) == 1
