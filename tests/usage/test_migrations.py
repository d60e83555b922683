"""Schema upgrades keep data; versions are tracked in PRAGMA user_version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.usage.errors import LedgerError
from gateway.usage.ledger import Ledger
from gateway.usage.schema import LATEST_VERSION, migrate, open_database
from gateway.usage.schema.migrations import MIGRATIONS


def make_v1(path: Path) -> list[tuple[str, str, float | None]]:
    rows = [
        ("2025-01-15T10:00:00.000000Z", "alice", 0.5),
        ("2025-01-20T10:00:00.000000Z", "alice", 0.25),
        ("2025-02-01T00:00:00.000000Z", "alice", 1.0),
        ("2025-01-31T23:59:59.999999Z", "bob", None),
        ("2025-01-31T23:59:59.999999Z", "bob", 2.0),
    ]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.executemany(
        "INSERT INTO requests (ts, key_id, route, latency_ms, outcome, cost_usd, tokens_in) "
        "VALUES (?, ?, '/v1/chat/completions', 10, 'ok', ?, 42)",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()
    return rows


def test_v1_database_with_data_upgrades_to_latest_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    rows = make_v1(path)
    ledger = Ledger(path)
    ledger.start()
    try:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
            kept = conn.execute("SELECT ts, key_id, cost_usd FROM requests ORDER BY id").fetchall()
            spend = {
                (k, m): (c, n)
                for k, m, c, n in conn.execute(
                    "SELECT key_id, month, cost_usd, requests FROM key_month_spend"
                )
            }
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        assert kept == rows
        assert spend == {
            ("alice", "2025-01"): (0.75, 2),
            ("alice", "2025-02"): (1.0, 1),
            ("bob", "2025-01"): (2.0, 2),
        }
        assert {"requests", "api_keys", "feedback", "key_month_spend"} <= tables
        from datetime import UTC, datetime

        assert ledger.month_spend("alice", at=datetime(2025, 1, 3, tzinfo=UTC)) == 0.75
    finally:
        ledger.close()


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "x.db")
    assert migrate(conn) == LATEST_VERSION
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    conn.close()


def test_a_failing_migration_leaves_the_old_version(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_v1(path)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    original = MIGRATIONS[2]
    MIGRATIONS[2] = broken  # v2 succeeds, v3 fails: the whole upgrade must roll back
    try:
        with pytest.raises(LedgerError, match="cannot migrate"):
            open_database(path)
    finally:
        MIGRATIONS[2] = original
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 5
    assert "half_done" not in names and "api_keys" not in names


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    with pytest.raises(LedgerError, match="newer than this code"):
        open_database(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"not sqlite at all " * 200)
    with pytest.raises(LedgerError, match="not a database"):
        open_database(path)
