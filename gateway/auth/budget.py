"""Monthly USD budgets per key, checked BEFORE the provider is called.

Spent this month = the ledger's month-to-date spend for the key (committed rows
plus rows still queued) + reservations of requests in flight. A request reserves
its estimated cost (prompt tokens, plus ``max_completion_tokens`` if the caller
knows a cap, at the model's current price) and is refused with PaymentRequired
(402) if that would exceed the budget. The reservation must be released AFTER
the request's ledger row is recorded, so its cost is never absent from both::

    with budget.reserve(principal, model=m, provider=p, prompt_tokens=n):
        reply = await provider.complete(...)
        ledger.record(UsageRecord(..., cost_usd=actual))

Months are UTC calendar months. Unpriced models (cost None) reserve nothing;
they are still refused once the budget is exhausted. Reservations are per
process; with several workers the ledger is the shared truth (<= 0.25 s behind).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, Self

from gateway.auth.principal import Principal
from gateway.errors import PaymentRequired
from gateway.usage.pricing import PriceTable


class SpendSource(Protocol):
    def month_spend(self, key_id: str, at: datetime | None = None) -> float: ...


class InMemorySpend:
    """A SpendSource for tests and tools that have no ledger."""

    def __init__(self, spent: dict[str, float] | None = None):
        self.spent: dict[str, float] = dict(spent or {})

    def month_spend(self, key_id: str, at: datetime | None = None) -> float:
        return self.spent.get(key_id, 0.0)


class Reservation:
    """An in-flight request's estimated cost, held until ``release()`` (idempotent)."""

    def __init__(self, guard: BudgetGuard | None, key_id: str, amount_usd: float):
        self._guard = guard
        self.key_id = key_id
        self.amount_usd = amount_usd

    def release(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            guard._release(self.key_id, self.amount_usd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _next_month(now: datetime) -> str:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return f"{year:04d}-{month:02d}-01"


class BudgetGuard:
    def __init__(
        self,
        spend: SpendSource,
        prices: PriceTable,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._spend = spend
        self._prices = prices
        self._clock = clock
        self._lock = threading.Lock()
        self._reserved: dict[str, float] = defaultdict(float)

    def estimate(
        self,
        model: str,
        *,
        provider: str | None,
        prompt_tokens: int,
        max_completion_tokens: int = 0,
    ) -> float | None:
        return self._prices.cost(
            model, prompt_tokens, max_completion_tokens, provider=provider, at=self._clock()
        )

    def reserve(
        self,
        principal: Principal,
        *,
        model: str,
        provider: str | None = None,
        prompt_tokens: int,
        max_completion_tokens: int = 0,
    ) -> Reservation:
        budget = principal.monthly_budget_usd
        if budget is None:
            return Reservation(None, principal.key_id, 0.0)
        now = self._clock()
        estimate = (
            self.estimate(
                model,
                provider=provider,
                prompt_tokens=prompt_tokens,
                max_completion_tokens=max_completion_tokens,
            )
            or 0.0
        )
        with self._lock:
            spent = (
                self._spend.month_spend(principal.key_id, now) + self._reserved[principal.key_id]
            )
            if spent >= budget:
                raise PaymentRequired(
                    f"the monthly budget of ${budget:.2f} for key {principal.key_id} is exhausted "
                    f"(${spent:.4f} spent or in flight this month); it resets on "
                    f"{_next_month(now)} UTC",
                    code="budget_exhausted",
                )
            if spent + estimate > budget:
                raise PaymentRequired(
                    f"this request (estimated ${estimate:.4f} with {model}) would exceed the "
                    f"${budget - spent:.4f} left of key {principal.key_id}'s monthly budget "
                    f"of ${budget:.2f}",
                    code="budget_insufficient",
                )
            self._reserved[principal.key_id] += estimate
        return Reservation(self, principal.key_id, estimate)

    def reserved(self, key_id: str) -> float:
        with self._lock:
            return self._reserved.get(key_id, 0.0)

    def _release(self, key_id: str, amount: float) -> None:
        with self._lock:
            left = self._reserved.get(key_id, 0.0) - amount
            if left > 1e-12:
                self._reserved[key_id] = left
            else:
                self._reserved.pop(key_id, None)
