"""Authentication from the Authorization header, the key cache, dev mode and scopes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gateway.auth.keys import KeyStore
from gateway.auth.principal import Principal
from gateway.auth.scopes import ALL_SCOPES, Audience, Scope
from gateway.auth.service import AuthService, require_scope
from gateway.errors import AuthError, ForbiddenError
from gateway.settings import AuthSettings

from .conftest import FakeClock
from .route_scopes import PROTECTED, ROUTE_SCOPES, served_route_scopes


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


def test_cached_answers_only_for_a_key_verified_within_the_ttl(store: KeyStore, clock: FakeClock) -> None:
    """The async auth dependency answers from ``cached`` on the event loop and sends
    everything else (first use, expiry, bad headers) to ``authenticate``."""
    auth = service(store, clock)
    created = store.create("dora", "chat")
    header = f"Bearer {created.plain_key}"
    for bad in (None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-key"):
        assert auth.cached(bad) is None
    assert auth.cached(header) is None  # never verified here yet
    principal = auth.authenticate(header)
    assert auth.cached(header) == principal
    assert auth.cached(f"  bearer   {created.plain_key} ") == principal
    assert auth.cached("Bearer lk_0123456789ab_" + "x" * 43) is None  # another key's hash
    clock.now += 5.1
    assert auth.cached(header) is None  # expired: authenticate reads the store again
    auth.authenticate(header)
    auth.revoke(created.key.key_id)
    assert auth.cached(header) is None


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


@pytest.mark.parametrize("header", ["Bearer dev", "bearer  sk-placeholder ", "Bearer x"])
def test_dev_mode_takes_a_placeholder_bearer_token_as_no_key(
    store: KeyStore, clock: FakeClock, header: str
) -> None:
    """OpenAI clients insist on an api_key; in dev mode a token that is not meant as a
    ladder key stands for "no key". Outside dev mode it is a 401 as before."""
    with pytest.raises(AuthError):
        service(store, clock).authenticate(header)
    assert service(store, clock).cached(header) is None
    auth = service(store, clock, dev_mode=True)
    assert auth.authenticate(header) == auth.dev_principal()
    assert auth.cached(header) == auth.dev_principal()  # no worker-thread hop for it
    assert auth.cached(None) == auth.dev_principal()


@pytest.mark.parametrize("header", ["Bearer lk_typo", "Bearer lk_0123456789ab_" + "x" * 43, "Basic dXNlcjpwYXNz"])
def test_dev_mode_still_refuses_what_is_meant_as_a_key(store: KeyStore, clock: FakeClock, header: str) -> None:
    auth = service(store, clock, dev_mode=True)
    assert auth.cached(header) is None
    with pytest.raises(AuthError):
        auth.authenticate(header)


def test_route_scope_table_matches_the_served_routes() -> None:
    served = served_route_scopes()
    assert served == ROUTE_SCOPES
    # Every /v1 route is protected; nothing outside /v1 needs a key.
    assert {r for r, scope in served.items() if scope is not None} == {
        r for r in served if r.split(" ", 1)[1].startswith("/v1/")
    }


def test_the_app_serves_exactly_the_walked_routers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ROUTERS is what create_app includes: every operation in the app's OpenAPI schema is
    one of the walked routes (the chat page's routes are left out of the schema)."""
    from gateway.app import create_app
    from gateway.settings import Settings

    config = tmp_path / "empty.toml"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("LADDER_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    app = create_app(Settings(data_dir=tmp_path))  # cheap: nothing is loaded before start-up
    operations = {
        f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items() for method in item
    }
    assert operations == set(ROUTE_SCOPES) - {"GET /", "GET /static/{name}"}


@pytest.mark.parametrize(
    ("granted", "route"), list(itertools.product(sorted(Scope), sorted(PROTECTED)))
)
def test_scope_matrix(granted: Scope, route: str) -> None:
    principal = Principal("k", "n", frozenset({granted}), Audience.EMPLOYEE, 1, 1, None)
    required = PROTECTED[route]
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
