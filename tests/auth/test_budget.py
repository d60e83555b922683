"""Monthly budgets: checked before the call from ledger spend plus in-flight reservations."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.auth.budget import BudgetGuard, InMemorySpend
from gateway.auth.principal import Principal
from gateway.auth.scopes import Audience, Scope
from gateway.errors import PaymentRequired
from gateway.settings import Settings
from gateway.usage.ledger import Ledger
from gateway.usage.pricing import PriceTable
from gateway.usage.records import UsageRecord

NOW = datetime(2025, 9, 15, 12, 0, tzinfo=UTC)
# gpt-4o-mini on NOW: $0.15 per 1M input tokens -> 100k prompt tokens cost $0.015.
PROMPT_TOKENS = 100_000
EACH = 0.015


def principal(budget: float | None, key_id: str = "k1") -> Principal:
    return Principal(key_id, "n", frozenset({Scope.CHAT}), Audience.EMPLOYEE, 60, 10**6, budget)


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load(Settings().providers.pricing_file)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    started = Ledger(tmp_path / "ladder.db", flush_interval_s=0.05)
    started.start()
    yield started
    started.close()


def guard(spend, prices: PriceTable) -> BudgetGuard:  # type: ignore[no-untyped-def]
    return BudgetGuard(spend, prices, clock=lambda: NOW)


def test_budget_exhaustion_from_recorded_spend(ledger: Ledger, prices: PriceTable) -> None:
    budget = guard(ledger, prices)
    who = principal(0.05)
    for _ in range(3):
        with budget.reserve(
            who, model="gpt-4o-mini", provider="openai", prompt_tokens=PROMPT_TOKENS
        ):
            ledger.record(
                UsageRecord(
                    key_id="k1",
                    route="/v1/chat/completions",
                    latency_ms=1,
                    model="gpt-4o-mini",
                    cost_usd=EACH,
                    ts=NOW,
                )
            )
    # 0.045 spent (not yet flushed: the queued rows count), 0.015 more would exceed 0.05
    with pytest.raises(PaymentRequired, match="would exceed") as caught:
        budget.reserve(who, model="gpt-4o-mini", provider="openai", prompt_tokens=PROMPT_TOKENS)
    assert caught.value.status_code == 402 and caught.value.code == "budget_insufficient"
    # a cheaper request still fits the remaining $0.005
    budget.reserve(who, model="gpt-4o-mini", prompt_tokens=10_000).release()
    ledger.record(UsageRecord(key_id="k1", route="/r", latency_ms=1, cost_usd=0.01, ts=NOW))
    ledger.flush()
    with pytest.raises(PaymentRequired, match="exhausted") as caught:
        budget.reserve(who, model="ladder-extractive", prompt_tokens=10)
    assert caught.value.code == "budget_exhausted" and "2025-10-01" in caught.value.message


def test_other_keys_and_last_month_do_not_count(ledger: Ledger, prices: PriceTable) -> None:
    ledger.record(UsageRecord(key_id="k2", route="/r", latency_ms=1, cost_usd=100.0, ts=NOW))
    ledger.record(
        UsageRecord(
            key_id="k1",
            route="/r",
            latency_ms=1,
            cost_usd=100.0,
            ts=datetime(2025, 8, 31, 23, 59, 59, tzinfo=UTC),
        )
    )
    ledger.flush()
    guard(ledger, prices).reserve(principal(1.0), model="gpt-4o-mini", prompt_tokens=PROMPT_TOKENS)


def test_no_budget_means_no_check(prices: PriceTable) -> None:
    budget = guard(InMemorySpend({"k1": 1e9}), prices)
    reservation = budget.reserve(principal(None), model="gpt-4o", prompt_tokens=10**6)
    assert reservation.amount_usd == 0.0 and budget.reserved("k1") == 0.0


def test_completion_cap_is_part_of_the_estimate(prices: PriceTable) -> None:
    budget = guard(InMemorySpend(), prices)
    # 1000 in + 1000 out on gpt-4o-mini = 0.00015 + 0.0006
    held = budget.reserve(
        principal(1.0), model="gpt-4o-mini", prompt_tokens=1000, max_completion_tokens=1000
    )
    assert held.amount_usd == pytest.approx(0.00075)
    assert budget.reserved("k1") == pytest.approx(0.00075)
    held.release()
    held.release()  # idempotent
    assert budget.reserved("k1") == 0.0


def test_unpriced_models_reserve_nothing_but_are_refused_once_exhausted(prices: PriceTable) -> None:
    spend = InMemorySpend({"k1": 0.5})
    budget = guard(spend, prices)
    assert budget.reserve(principal(1.0), model="mystery", prompt_tokens=10**6).amount_usd == 0.0
    spend.spent["k1"] = 1.0
    with pytest.raises(PaymentRequired):
        budget.reserve(principal(1.0), model="mystery", prompt_tokens=1)


def test_fifty_concurrent_reservations_admit_exactly_what_fits(
    ledger: Ledger, prices: PriceTable
) -> None:
    budget = guard(ledger, prices)
    who = principal(EACH * 20 + EACH / 2)  # room for 20, not 21
    barrier = threading.Barrier(50)
    admitted: list[bool] = []
    held = []

    def worker() -> None:
        barrier.wait()
        try:
            held.append(budget.reserve(who, model="gpt-4o-mini", prompt_tokens=PROMPT_TOKENS))
            admitted.append(True)
        except PaymentRequired:
            admitted.append(False)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 20
    assert budget.reserved("k1") == pytest.approx(EACH * 20)


async def test_async_requests_that_record_and_release_never_overspend(
    ledger: Ledger, prices: PriceTable
) -> None:
    budget = guard(ledger, prices)
    who = principal(EACH * 20 + EACH / 2)

    async def request() -> bool:
        try:
            reservation = budget.reserve(who, model="gpt-4o-mini", prompt_tokens=PROMPT_TOKENS)
        except PaymentRequired:
            return False
        with reservation:
            await asyncio.sleep(0.01)  # the provider call
            ledger.record(
                UsageRecord(key_id="k1", route="/r", latency_ms=10, cost_usd=EACH, ts=NOW)
            )
        return True

    first = await asyncio.gather(*(request() for _ in range(50)))
    assert sum(first) == 20
    second = await asyncio.gather(*(request() for _ in range(10)))  # reservations released,
    assert sum(second) == 0  # but the recorded spend now fills the budget
    ledger.flush()
    assert ledger.month_spend("k1", NOW) == pytest.approx(EACH * 20)
