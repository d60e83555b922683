"""A per-target circuit breaker: skip a failing upstream for a cool-down.

closed --(N consecutive failures)--> open --(cool-down elapsed)--> half-open
half-open --(probe succeeds)--> closed ; half-open --(probe fails)--> open

A probe whose outcome is never recorded (its request was cancelled, or failed
with something that is not a provider error) must not hold the breaker
half-open for ever: after another cool-down a new probe is let through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self._threshold = failure_threshold
        self._cooldown = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state: State = "closed"
        self._probe_in_flight = False
        self._probe_started = 0.0
        self._on_change = on_change

    @property
    def state(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self._cooldown:
            return "half_open"
        return self._state

    def _set(self, state: State) -> None:
        if state != self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)

    def allow(self) -> bool:
        """May a request go to this target now? Half-open lets exactly one probe through."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open":
            now = self._clock()
            if self._probe_in_flight and now - self._probe_started < self._cooldown:
                return False
            self._set("half_open")
            self._probe_in_flight = True
            self._probe_started = now
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._probe_in_flight = False
        self._set("closed")

    def record_failure(self) -> None:
        self._probe_in_flight = False
        self._failures += 1
        if self._state == "half_open" or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._set("open")
