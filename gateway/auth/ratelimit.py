"""Per-key requests-per-minute and tokens-per-minute limits (token buckets, in memory).

Each key has two buckets that refill continuously (``limit / 60`` per second) up
to ``limit``: one spends 1 per request, the other the request's estimated prompt
tokens; completion tokens are charged after the call (``charge_tokens``), so a
key that runs long answers pays for them on its next requests. A request is
admitted only if BOTH buckets can pay, and both are debited under one lock, so
the limits are exact under threads and asyncio alike (no await inside).

A request larger than a whole minute's token allowance would never fit; it is
admitted when the bucket is full and drives it negative, which then holds off
that key for as long as the excess takes to refill - instead of failing forever.

Limits are per process: with N workers a key gets up to N times its limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.auth.principal import Principal
from gateway.errors import RateLimited

WINDOW_S = 60.0


@dataclass(slots=True)
class TokenBucket:
    capacity: float
    level: float
    updated: float

    @property
    def rate(self) -> float:
        return self.capacity / WINDOW_S

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` can be paid (0 if now); call ``refill`` first."""
        need = min(cost, self.capacity)  # an oversized request needs a full bucket
        if self.level >= need:
            return 0.0
        return (need - self.level) / self.rate

    def resize(self, capacity: float) -> None:
        if capacity != self.capacity:
            self.level = min(self.level, capacity)
            self.capacity = capacity


class RateLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, TokenBucket] = {}
        self._tokens: dict[str, TokenBucket] = {}
        self._max_keys = max_keys

    def _bucket(
        self, table: dict[str, TokenBucket], key_id: str, limit: int, now: float
    ) -> TokenBucket:
        bucket = table.get(key_id)
        if bucket is None:
            if len(table) >= self._max_keys:
                self._forget_full(table, now)
            bucket = table[key_id] = TokenBucket(float(limit), float(limit), now)
        bucket.resize(float(limit))
        bucket.refill(now)
        return bucket

    @staticmethod
    def _forget_full(table: dict[str, TokenBucket], now: float) -> None:
        # A bucket that has refilled completely carries no state worth keeping.
        idle = []
        for key_id, bucket in table.items():
            bucket.refill(now)
            if bucket.level >= bucket.capacity:
                idle.append(key_id)
        for key_id in idle:
            del table[key_id]

    def check(self, key_id: str, *, rpm: int, tpm: int, tokens: int = 0) -> None:
        """Admit one request of ``tokens`` estimated prompt tokens, or raise RateLimited."""
        now = self._clock()
        with self._lock:
            requests = self._bucket(self._requests, key_id, rpm, now)
            budget = self._bucket(self._tokens, key_id, tpm, now)
            wait_requests = requests.wait_for(1)
            wait_tokens = budget.wait_for(tokens)
            if wait_requests > 0 or wait_tokens > 0:
                which = "requests" if wait_requests >= wait_tokens else "tokens"
                limit = rpm if which == "requests" else tpm
                retry_after = max(wait_requests, wait_tokens)
                raise RateLimited(
                    f"rate limit of {limit} {which} per minute reached for key {key_id}; "
                    f"retry in {math.ceil(retry_after)} s",
                    retry_after=retry_after,
                    code=f"rate_limited_{which}",
                )
            requests.level -= 1
            budget.level -= tokens

    def admit(self, principal: Principal, tokens: int = 0) -> None:
        """``check`` with the principal's own limits."""
        self.check(principal.key_id, rpm=principal.rpm, tpm=principal.tpm, tokens=tokens)

    def charge_tokens(self, key_id: str, tokens: int, *, tpm: int) -> None:
        """Debit tokens spent after admission (the completion); never raises."""
        if tokens <= 0:
            return
        now = self._clock()
        with self._lock:
            self._bucket(self._tokens, key_id, tpm, now).level -= tokens

    def remaining(self, key_id: str, *, rpm: int, tpm: int) -> tuple[float, float]:
        """(requests, tokens) available now - for X-RateLimit-Remaining style headers."""
        now = self._clock()
        with self._lock:
            return (
                self._bucket(self._requests, key_id, rpm, now).level,
                self._bucket(self._tokens, key_id, tpm, now).level,
            )
