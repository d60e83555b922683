"""API keys, scopes, per-key rate limits and monthly budgets.

Wiring (FastAPI lifespan)::

    store = KeyStore(settings.ledger_path)
    auth = AuthService(settings.auth, store); auth.start()
    limiter = RateLimiter()
    budget = BudgetGuard(ledger, prices)   # ledger: gateway.usage.Ledger
    ...
    auth.close()
"""

from gateway.auth.budget import BudgetGuard, InMemorySpend, Reservation, SpendSource
from gateway.auth.keys import ApiKey, CreatedKey, KeyStore
from gateway.auth.principal import Principal
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.scopes import Audience, Scope, parse_scopes
from gateway.auth.service import AuthService, require_scope

__all__ = [
    "ApiKey",
    "Audience",
    "AuthService",
    "BudgetGuard",
    "CreatedKey",
    "InMemorySpend",
    "KeyStore",
    "Principal",
    "RateLimiter",
    "Reservation",
    "Scope",
    "SpendSource",
    "parse_scopes",
    "require_scope",
]
