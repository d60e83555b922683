"""What a key may do (scopes) and whom it speaks for (audience).

Scopes map to route groups: ``chat`` (POST /v1/chat/completions), ``answers``
(POST /v1/answers), ``search`` (retrieval only), ``roles`` (blueprint browsing),
``prompts:write`` (promote/roll back prompt versions), ``usage:read``
(GET /v1/usage) and ``admin``, which implies every other scope. The audience
selects the guardrail policy applied to the key's requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from gateway.errors import RequestError


class Scope(StrEnum):
    CHAT = "chat"
    ANSWERS = "answers"
    SEARCH = "search"
    ROLES = "roles"
    PROMPTS_WRITE = "prompts:write"
    USAGE_READ = "usage:read"
    ADMIN = "admin"


class Audience(StrEnum):
    EMPLOYEE = "employee"
    MANAGER = "manager"
    EVALUATOR = "evaluator"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


def parse_scopes(value: str | Iterable[str]) -> frozenset[Scope]:
    """'chat,answers' or ['chat', 'answers'] -> scopes; an unknown name is a 400, not ignored."""
    names = value.split(",") if isinstance(value, str) else list(value)
    cleaned = [name.strip().lower() for name in names if name and name.strip()]
    if not cleaned:
        raise RequestError("at least one scope is required", code="invalid_scope", param="scopes")
    unknown = sorted({name for name in cleaned} - {s.value for s in Scope})
    if unknown:
        raise RequestError(
            f"unknown scope(s): {', '.join(unknown)}; valid: {', '.join(s.value for s in Scope)}",
            code="invalid_scope",
            param="scopes",
        )
    return frozenset(Scope(name) for name in cleaned)


def parse_audience(value: str) -> Audience:
    try:
        return Audience(value.strip().lower())
    except ValueError:
        raise RequestError(
            f"unknown audience {value!r}; valid: {', '.join(a.value for a in Audience)}",
            code="invalid_audience",
            param="audience",
        ) from None


def format_scopes(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(s.value for s in scopes))


def has_scope(granted: Iterable[Scope], required: Scope | str) -> bool:
    granted = frozenset(granted)
    return Scope.ADMIN in granted or Scope(required) in granted
