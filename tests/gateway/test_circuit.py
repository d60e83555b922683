"""The circuit breaker's state machine, on a hand-driven clock."""

from __future__ import annotations

from gateway.providers.circuit import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock, changes: list[str] | None = None) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, cooldown_s=10.0, clock=clock,
                          on_change=None if changes is None else changes.append)


def test_opens_after_consecutive_failures_only() -> None:
    clock, changes = Clock(), []
    breaker = _breaker(clock, changes)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    assert changes == ["open"]


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock, changes = Clock(), []
    breaker = _breaker(clock, changes)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for it
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()
    assert changes == ["open", "half_open", "closed"]


def test_failed_probe_reopens_for_a_full_cool_down() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_a_probe_that_never_reports_does_not_wedge_the_breaker() -> None:
    # A probe whose request was cancelled records neither success nor failure.
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    clock.now += 5
    assert not breaker.allow()  # still within the probe's own cool-down
    clock.now += 5
    assert breaker.allow()  # a new probe is let through
    breaker.record_success()
    assert breaker.state == "closed"
