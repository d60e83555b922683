"""Token counting, pricing, and the usage ledger (requests, spend, feedback).

Typical wiring (FastAPI lifespan)::

    counter = TokenCounter(); counter.warm_up()
    prices = PriceTable.load(settings.providers.pricing_file)
    ledger = Ledger(settings.ledger_path); ledger.start()
    ...
    await ledger.aclose()
"""

from gateway.usage.ledger import Ledger, LedgerStats
from gateway.usage.pricing import Price, PriceTable
from gateway.usage.records import Outcome, UsageRecord
from gateway.usage.reports import GroupBy, UsageRow, usage_report
from gateway.usage.tokens import ProviderUsage, TokenCounter, TokenUsage

__all__ = [
    "GroupBy",
    "Ledger",
    "LedgerStats",
    "Outcome",
    "Price",
    "PriceTable",
    "ProviderUsage",
    "TokenCounter",
    "TokenUsage",
    "UsageRecord",
    "UsageRow",
    "usage_report",
]
