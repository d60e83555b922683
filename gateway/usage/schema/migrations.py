"""The ledger database's schema history, oldest first.

Migration N takes a database at ``user_version == N - 1`` to N. Append new ones;
never edit one that has shipped - databases in the field already ran it.
Each runs inside the runner's transaction, so a failure leaves the old version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _run(conn: sqlite3.Connection, statements: list[str]) -> None:
    # executescript() would COMMIT the runner's transaction first; run one by one.
    for statement in statements:
        conn.execute(statement)


def v1_requests(conn: sqlite3.Connection) -> None:
    """One row per gateway request. ``ts`` is UTC ISO-8601 with microseconds and 'Z'."""
    _run(
        conn,
        [
            """CREATE TABLE requests (
                id INTEGER PRIMARY KEY,
                ts TEXT NOT NULL,
                key_id TEXT NOT NULL,
                audience TEXT,
                route TEXT NOT NULL,
                model TEXT,
                provider TEXT,
                prompt_name TEXT,
                prompt_version TEXT,
                tokens_in INTEGER NOT NULL DEFAULT 0 CHECK (tokens_in >= 0),
                tokens_out INTEGER NOT NULL DEFAULT 0 CHECK (tokens_out >= 0),
                usage_source TEXT,
                cost_usd REAL,
                latency_ms REAL NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'blocked', 'error')),
                cache_hit INTEGER NOT NULL DEFAULT 0,
                trace_id TEXT,
                status_code INTEGER
            )""",
            "CREATE INDEX requests_ts ON requests (ts)",
            "CREATE INDEX requests_key_ts ON requests (key_id, ts)",
            "CREATE INDEX requests_trace ON requests (trace_id)",
        ],
    )


def v2_keys_and_feedback(conn: sqlite3.Connection) -> None:
    """API keys (hashed; the plain key is never stored) and thumbs up/down feedback."""
    _run(
        conn,
        [
            """CREATE TABLE api_keys (
                key_id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                key_hash TEXT NOT NULL UNIQUE,
                scopes TEXT NOT NULL,
                audience TEXT NOT NULL,
                rpm INTEGER CHECK (rpm IS NULL OR rpm > 0),
                tpm INTEGER CHECK (tpm IS NULL OR tpm > 0),
                monthly_budget_usd REAL
                    CHECK (monthly_budget_usd IS NULL OR monthly_budget_usd >= 0),
                created_at TEXT NOT NULL,
                revoked_at TEXT
            )""",
            """CREATE TABLE feedback (
                id INTEGER PRIMARY KEY,
                trace_id TEXT NOT NULL,
                key_id TEXT NOT NULL,
                rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
                comment TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (trace_id, key_id)
            )""",
            "CREATE INDEX feedback_created ON feedback (created_at)",
        ],
    )


def v3_month_spend(conn: sqlite3.Connection) -> None:
    """Month-to-date spend per key, kept by the writer, so a budget check is one lookup.

    Backfilled from existing rows; unpriced rows (cost NULL) count as requests, not dollars.
    """
    _run(
        conn,
        [
            """CREATE TABLE key_month_spend (
                key_id TEXT NOT NULL,
                month TEXT NOT NULL,
                cost_usd REAL NOT NULL DEFAULT 0,
                requests INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (key_id, month)
            ) WITHOUT ROWID""",
            """INSERT INTO key_month_spend (key_id, month, cost_usd, requests)
               SELECT key_id, substr(ts, 1, 7), COALESCE(SUM(cost_usd), 0), COUNT(*)
               FROM requests GROUP BY key_id, substr(ts, 1, 7)""",
        ],
    )


Migration = Callable[[sqlite3.Connection], None]

# Position i holds the migration to version i + 1.
MIGRATIONS: list[Migration] = [v1_requests, v2_keys_and_feedback, v3_month_spend]
LATEST_VERSION = len(MIGRATIONS)
