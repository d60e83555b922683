"""API keys, stored hashed in the ledger database.

A key reads ``lk_<id>_<secret>``: ``id`` is 12 hex characters, public, used to
find the row and to name the key in lists and logs; ``secret`` is 32 random
bytes (256 bits, base64url). Only ``sha256("<id>:<secret>")`` is stored. A
fast hash is the right tool here: slow password hashes (bcrypt, argon2) exist
to protect low-entropy human passwords, while guessing a 256-bit random secret
is infeasible at any hash speed - and verification runs on every request.
Comparison is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway.auth.scopes import Audience, Scope, format_scopes, parse_audience, parse_scopes
from gateway.errors import NotFoundError, RequestError
from gateway.usage.errors import LedgerError
from gateway.usage.schema import format_ts, open_database, parse_ts

KEY_PREFIX = "lk"
_KEY_RE = re.compile(r"^lk_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{32,128})$")
_DUMMY_HASH = hashlib.sha256(b"timing-equaliser").hexdigest()
MAX_NAME_CHARS = 100


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[Scope]
    audience: Audience
    rpm: int | None
    tpm: int | None
    monthly_budget_usd: float | None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def prefix(self) -> str:
        """What lists and logs show: enough to identify a key, useless to use it."""
        return f"{KEY_PREFIX}_{self.key_id}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    plain_key: str = field(repr=False)  # shown once, to whoever created it


def parse_key(plain_key: str) -> tuple[str, str] | None:
    match = _KEY_RE.match(plain_key.strip())
    return (match.group("id"), match.group("secret")) if match else None


def hash_key(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


_COLUMNS = "key_id, name, scopes, audience, rpm, tpm, monthly_budget_usd, created_at, revoked_at"


def _row_to_key(row: tuple[object, ...]) -> ApiKey:
    key_id, name, scopes, audience, rpm, tpm, budget, created, revoked = row
    return ApiKey(
        key_id=str(key_id),
        name=str(name),
        scopes=parse_scopes(str(scopes)),
        audience=Audience(str(audience)),
        rpm=rpm,  # type: ignore[arg-type]
        tpm=tpm,  # type: ignore[arg-type]
        monthly_budget_usd=budget,  # type: ignore[arg-type]
        created_at=parse_ts(str(created)),
        revoked_at=parse_ts(str(revoked)) if revoked else None,
    )


def _positive(value: int | None, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or int(value) < 1):
        raise RequestError(f"{name} must be a positive integer", code="invalid_limit", param=name)
    return None if value is None else int(value)


class KeyStore:
    """Create, list, revoke and verify keys. Thread-safe; ``start()`` opens the database."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._conn is None:
                self._conn = open_database(self.path)

    warm_up = start

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError("the key store is not started")
        return self._conn

    def _fetch(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db().execute(query, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read or update API keys: {exc}") from exc

    def create(
        self,
        name: str,
        scopes: str | Iterable[str],
        audience: str = Audience.EMPLOYEE,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        monthly_budget_usd: float | None = None,
    ) -> CreatedKey:
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise RequestError(f"name must be 1-{MAX_NAME_CHARS} characters", param="name")
        granted = parse_scopes(scopes)
        who = parse_audience(str(audience))
        rpm, tpm = _positive(rpm, "rpm"), _positive(tpm, "tpm")
        if monthly_budget_usd is not None and not (
            math.isfinite(monthly_budget_usd) and monthly_budget_usd >= 0
        ):
            raise RequestError("budget must be >= 0 USD", code="invalid_limit", param="budget_usd")
        created = datetime.now(UTC)
        with self._lock:
            db = self._db()
            for _ in range(5):  # a 48-bit id collides about never; retry rather than assume
                key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
                try:
                    db.execute(
                        f"INSERT INTO api_keys ({_COLUMNS}, key_hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            key_id,
                            name,
                            format_scopes(granted),
                            who.value,
                            rpm,
                            tpm,
                            monthly_budget_usd,
                            format_ts(created),
                            None,
                            hash_key(key_id, secret),
                        ),
                    )
                    break
                except sqlite3.IntegrityError:
                    continue
                except sqlite3.Error as exc:
                    raise LedgerError(f"cannot store the new key: {exc}") from exc
            else:
                raise LedgerError("could not allocate a unique key id")
        key = ApiKey(
            key_id, name, granted, who, rpm, tpm, monthly_budget_usd, parse_ts(format_ts(created))
        )
        return CreatedKey(key=key, plain_key=f"{KEY_PREFIX}_{key_id}_{secret}")

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        query = f"SELECT {_COLUMNS} FROM api_keys"
        if not include_revoked:
            query += " WHERE revoked_at IS NULL"
        rows = self._fetch(query + " ORDER BY created_at, key_id")
        return [_row_to_key(row) for row in rows]

    def get(self, key_id: str) -> ApiKey | None:
        rows = self._fetch(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        return _row_to_key(rows[0]) if rows else None

    def revoke(self, key_id: str) -> ApiKey:
        """Mark a key revoked (kept for the ledger's history). Revoking twice is harmless."""
        key_id = key_id.strip()
        if key_id.startswith(f"{KEY_PREFIX}_"):
            key_id = key_id[len(KEY_PREFIX) + 1 :].split("_", 1)[0]
        self._fetch(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (format_ts(datetime.now(UTC)), key_id),
        )
        key = self.get(key_id)
        if key is None:
            raise NotFoundError(f"no API key with id {key_id!r}", code="key_not_found")
        return key

    def verify(self, plain_key: str) -> ApiKey | None:
        """The active key this plain key proves, or None (malformed, unknown, wrong, revoked)."""
        parsed = parse_key(plain_key)
        if parsed is None:
            return None
        key_id, secret = parsed
        rows = self._fetch(f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_id = ?", (key_id,))
        row = rows[0] if rows else None
        stored = str(row[-1]) if row else _DUMMY_HASH
        # Hash and compare even for an unknown id, so timing does not reveal which ids exist.
        matches = hmac.compare_digest(stored, hash_key(key_id, secret))
        if row is None or not matches:
            return None
        key = _row_to_key(row[:-1])
        return key if key.active else None
