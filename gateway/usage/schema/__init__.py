"""Opening the ledger database and migrating it by version (``PRAGMA user_version``).

Every component that touches the database (ledger, key store, reports) opens it
through ``connect()``, so each connection gets the same settings: WAL (readers
never block the writer), ``synchronous=NORMAL`` (commits do not fsync; in WAL a
process crash loses nothing committed, a power cut at most the last commits),
and a busy timeout so a second process waits instead of failing.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from gateway.usage.errors import LedgerError
from gateway.usage.schema.migrations import LATEST_VERSION, MIGRATIONS

__all__ = ["LATEST_VERSION", "connect", "format_ts", "migrate", "open_database", "parse_ts"]

BUSY_TIMEOUT_MS = 5000
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_ts(moment: datetime) -> str:
    """UTC, fixed width, so text order is time order. Naive datetimes are taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TS_FORMAT)


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, TS_FORMAT).replace(tzinfo=UTC)


def connect(path: Path) -> sqlite3.Connection:
    """A configured connection in autocommit mode (transactions are explicit)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL")
    except (sqlite3.Error, OSError) as exc:
        raise LedgerError(f"cannot open the ledger database {path}: {exc}") from exc
    if str(mode).lower() != "wal" and str(path) != ":memory:":
        conn.close()
        raise LedgerError(f"the ledger database {path} refused WAL mode (got {mode!r})")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to ``LATEST_VERSION``; returns the version it started at.

    ``BEGIN IMMEDIATE`` takes the write lock before reading the version, so two
    processes starting together migrate once, not twice.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            start = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if start > LATEST_VERSION:
                raise LedgerError(
                    f"the ledger database is at schema version {start}, newer than this "
                    f"code's {LATEST_VERSION}; upgrade ladder instead of downgrading the data"
                )
            for version in range(start + 1, LATEST_VERSION + 1):
                MIGRATIONS[version - 1](conn)
                # PRAGMA does not accept parameters; version is our own int.
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
            return start
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot migrate the ledger database: {exc}") from exc


def open_database(path: Path) -> sqlite3.Connection:
    """Connect and migrate; the usual way in."""
    conn = connect(path)
    try:
        migrate(conn)
    except LedgerError:
        conn.close()
        raise
    return conn
