"""Turning an ``Authorization`` header into a ``Principal``, and checking scopes.

Verified keys are cached in memory for ``cache_ttl_s`` (default 5 s) so a hot
key costs a dict lookup, not a database read. Consequence, by design: a key
revoked from another process (``ladder keys revoke``) stops working within
``cache_ttl_s``; one revoked through this service's ``revoke()`` stops at once.
Failed lookups are not cached, so a key created a moment ago works immediately.

Dev mode (``settings.auth.dev_mode``, refused by Settings unless bound to
loopback) admits requests WITHOUT a key as an anonymous local principal with
every scope except ``admin``. A bearer token that is not in ladder's key format
(``lk_...``) counts as no key there: OpenAI clients refuse to start without *some*
api_key, so users pass a placeholder such as ``"dev"``. A ladder key that is sent
is still verified (a revoked one gets 401 even in dev mode).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from gateway.auth.keys import KEY_PREFIX, ApiKey, KeyStore, hash_key, parse_key
from gateway.auth.principal import DEV_KEY_ID, DEV_SCOPES, Principal
from gateway.auth.scopes import Audience, Scope
from gateway.errors import AuthError, ForbiddenError
from gateway.settings import AuthSettings


def require_scope(principal: Principal, scope: Scope | str) -> None:
    """ForbiddenError (403) unless the principal holds ``scope`` (or ``admin``)."""
    if not principal.can(scope):
        raise ForbiddenError(
            f"this API key ({principal.key_id}) lacks the '{Scope(scope).value}' scope",
            code="insufficient_scope",
        )


class AuthService:
    def __init__(
        self,
        settings: AuthSettings,
        store: KeyStore,
        *,
        cache_ttl_s: float = 5.0,
        cache_max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._settings = settings
        self._store = store
        self._ttl = cache_ttl_s
        self._max = cache_max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._store.start()

    warm_up = start

    def close(self) -> None:
        self._store.close()

    @property
    def store(self) -> KeyStore:
        return self._store

    def dev_principal(self) -> Principal:
        return Principal(
            key_id=DEV_KEY_ID,
            name="dev mode (anonymous, local)",
            scopes=DEV_SCOPES,
            audience=Audience.EMPLOYEE,
            rpm=self._settings.default_rpm,
            tpm=self._settings.default_tpm,
            monthly_budget_usd=self._settings.default_monthly_budget_usd,
            anonymous=True,
        )

    def principal_for(self, key: ApiKey) -> Principal:
        return Principal(
            key_id=key.key_id,
            name=key.name,
            scopes=key.scopes,
            audience=key.audience,
            rpm=key.rpm or self._settings.default_rpm,
            tpm=key.tpm or self._settings.default_tpm,
            monthly_budget_usd=(
                key.monthly_budget_usd
                if key.monthly_budget_usd is not None
                else self._settings.default_monthly_budget_usd
            ),
        )

    def cached(self, authorization: str | None) -> Principal | None:
        """The principal for a key verified within ``cache_ttl_s`` (or dev mode's anonymous
        one), or None: then call ``authenticate``, which reads the key store (and raises
        for a bad header or key).

        Lets an async caller answer the common case on the event loop and send only a
        database read to a worker thread."""
        if not authorization or not authorization.strip():
            return self.dev_principal() if self._settings.dev_mode else None
        scheme, _, token = authorization.strip().partition(" ")
        parsed = parse_key(token.strip()) if scheme.lower() == "bearer" else None
        if parsed is None:
            return self.dev_principal() if self._dev_placeholder(scheme, token) else None
        return self._fresh(hash_key(*parsed))

    def _dev_placeholder(self, scheme: str, token: str) -> bool:
        """Dev mode, and a bearer token that is not meant as a ladder key (e.g. "dev").

        A token starting ``lk_`` is meant as one, so a mistyped key still gets 401
        instead of silently becoming anonymous."""
        token = token.strip()
        return (
            self._settings.dev_mode
            and scheme.lower() == "bearer"
            and bool(token)
            and not token.startswith(f"{KEY_PREFIX}_")
        )

    def _fresh(self, digest: str) -> Principal | None:
        """The cached principal for a key digest, while its entry is within the TTL."""
        with self._lock:
            cached = self._cache.get(digest)
            if cached is None or cached[0] <= self._clock():
                return None
            self._cache.move_to_end(digest)
            return cached[1]

    def authenticate(self, authorization: str | None) -> Principal:
        """``Authorization: Bearer lk_...`` -> Principal; AuthError (401) otherwise."""
        if authorization is None or not authorization.strip():
            if self._settings.dev_mode:
                return self.dev_principal()
            raise AuthError(
                "missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(
                "malformed Authorization header: expected 'Bearer <key>'",
                code="invalid_authorization_header",
            )
        parsed = parse_key(token)
        if parsed is None:
            if self._dev_placeholder(scheme, token):
                return self.dev_principal()
            raise AuthError("invalid API key", code="invalid_api_key")
        digest = hash_key(*parsed)
        now = self._clock()
        hit = self._fresh(digest)
        if hit is not None:
            return hit
        key = self._store.verify(token)
        if key is None:
            with self._lock:
                self._cache.pop(digest, None)
            raise AuthError("invalid or revoked API key", code="invalid_api_key")
        principal = self.principal_for(key)
        with self._lock:
            self._cache[digest] = (now + self._ttl, principal)
            self._cache.move_to_end(digest)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return principal

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke and forget any cached verification, so it takes effect immediately here."""
        key = self._store.revoke(key_id)
        self.invalidate(key.key_id)
        return key

    def invalidate(self, key_id: str | None = None) -> None:
        with self._lock:
            if key_id is None:
                self._cache.clear()
                return
            for digest in [d for d, (_, p) in self._cache.items() if p.key_id == key_id]:
                del self._cache[digest]

    require_scope = staticmethod(require_scope)
