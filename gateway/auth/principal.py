"""Who is calling: the authenticated key with its limits resolved against the defaults."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.scopes import ALL_SCOPES, Audience, Scope, has_scope


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[Scope]
    audience: Audience
    rpm: int
    tpm: int
    monthly_budget_usd: float | None  # None: no budget
    anonymous: bool = False

    def can(self, scope: Scope | str) -> bool:
        return has_scope(self.scopes, scope)


DEV_KEY_ID = "dev-local"
# Dev mode gets everything a normal user could be granted, never admin.
DEV_SCOPES: frozenset[Scope] = ALL_SCOPES - {Scope.ADMIN}
