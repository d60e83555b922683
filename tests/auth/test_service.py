"""Authentication from the Authorization header, the key cache, dev mode and scopes."""

from __future__ import annotations

import itertools

import pytest

from gateway.auth.keys import KeyStore
from gateway.auth.principal import Principal
from gateway.auth.scopes import ALL_SCOPES, Audience, Scope
from gateway.auth.service import AuthService, require_scope
from gateway.errors import AuthError, ForbiddenError
from gateway.settings import AuthSettings

from .conftest import FakeClock


def service(store: KeyStore, clock: FakeClock, **settings: object) -> AuthService:
    return AuthService(AuthSettings(**settings), store, cache_ttl_s=5.0, clock=clock)


def test_bearer_key_yields_principal_with_defaults_filled(
    store: KeyStore, clock: FakeClock
) -> None:
    auth = service(store, clock, default_rpm=77, default_tpm=8888, default_monthly_budget_usd=3.5)
    created = store.create("alice", "chat,roles", "manager", tpm=500)
    principal = auth.authenticate(f"Bearer {created.plain_key}")
    assert principal == Principal(
        key_id=created.key.key_id,
        name="alice",
        scopes=frozenset({Scope.CHAT, Scope.ROLES}),
        audience=Audience.MANAGER,
        rpm=77,
        tpm=500,
        monthly_budget_usd=3.5,
    )
    assert auth.authenticate(f"  bearer   {created.plain_key} ") == principal


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("", "missing_api_key"),
        ("Basic dXNlcjpwYXNz", "invalid_authorization_header"),
        ("Bearer", "invalid_authorization_header"),
        ("lk_0123456789ab_" + "x" * 43, "invalid_authorization_header"),
        ("Bearer not-a-key", "invalid_api_key"),
        ("Bearer lk_0123456789ab_" + "x" * 43, "invalid_api_key"),
    ],
)
def test_missing_or_invalid_credentials_are_401(
    store: KeyStore, clock: FakeClock, header: str | None, code: str
) -> None:
    with pytest.raises(AuthError) as caught:
        service(store, clock).authenticate(header)
    assert caught.value.status_code == 401 and caught.value.code == code


def test_revocation_through_the_service_is_immediate(store: KeyStore, clock: FakeClock) -> None:
    auth = service(store, clock)
    created = store.create("bob", "chat")
    auth.authenticate(f"Bearer {created.plain_key}")
    auth.revoke(created.key.key_id)
    with pytest.raises(AuthError):
        auth.authenticate(f"Bearer {created.plain_key}")


def test_revocation_elsewhere_takes_effect_within_the_cache_ttl(
    store: KeyStore, clock: FakeClock, db_path
) -> None:  # type: ignore[no-untyped-def]
    auth = service(store, clock)
    created = store.create("carol", "chat")
    header = f"Bearer {created.plain_key}"
    auth.authenticate(header)
    other_process = KeyStore(db_path)  # e.g. `ladder keys revoke` from a shell
    other_process.start()
    other_process.revoke(created.key.key_id)
    other_process.close()
    clock.now += 4.9
    assert auth.authenticate(header).key_id == created.key.key_id  # still cached
    clock.now += 0.2
    with pytest.raises(AuthError, match="revoked"):
        auth.authenticate(header)


def test_dev_mode_is_explicit_and_never_admin(store: KeyStore, clock: FakeClock) -> None:
    with pytest.raises(AuthError):
        service(store, clock).authenticate(None)  # off by default
    auth = service(store, clock, dev_mode=True)
    principal = auth.authenticate(None)
    assert principal.anonymous and principal.audience is Audience.EMPLOYEE
    assert principal.scopes == ALL_SCOPES - {Scope.ADMIN}
    assert not principal.can(Scope.ADMIN)
    with pytest.raises(AuthError):  # a key that IS sent is still checked
        auth.authenticate("Bearer lk_0123456789ab_" + "x" * 43)
    admin = store.create("root", "admin")
    assert auth.authenticate(f"Bearer {admin.plain_key}").can(Scope.ADMIN)


# Which scope each route group requires (mirrors the gateway's routes).
ROUTE_SCOPES = {
    "POST /v1/chat/completions": Scope.CHAT,
    "POST /v1/answers": Scope.ANSWERS,
    "POST /v1/search": Scope.SEARCH,
    "GET /v1/roles": Scope.ROLES,
    "POST /v1/prompts/promote": Scope.PROMPTS_WRITE,
    "GET /v1/usage": Scope.USAGE_READ,
    "POST /v1/keys": Scope.ADMIN,
}


@pytest.mark.parametrize(
    ("granted", "route"), list(itertools.product(sorted(Scope), sorted(ROUTE_SCOPES)))
)
def test_scope_matrix(granted: Scope, route: str) -> None:
    principal = Principal("k", "n", frozenset({granted}), Audience.EMPLOYEE, 1, 1, None)
    required = ROUTE_SCOPES[route]
    allowed = granted is Scope.ADMIN or granted is required
    if allowed:
        require_scope(principal, required)
    else:
        with pytest.raises(ForbiddenError) as caught:
            require_scope(principal, required)
        assert caught.value.status_code == 403 and required.value in caught.value.message


def test_combined_scopes_grant_exactly_their_union() -> None:
    principal = Principal(
        "k", "n", frozenset({Scope.CHAT, Scope.USAGE_READ}), Audience.EMPLOYEE, 1, 1, None
    )
    assert {s for s in Scope if principal.can(s)} == {Scope.CHAT, Scope.USAGE_READ}
