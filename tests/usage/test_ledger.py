"""The batched ledger writer: nothing lost, nothing doubled, quick to return."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.usage.errors import LedgerClosed
from gateway.usage.ledger import Ledger
from gateway.usage.records import UsageRecord

ROOT = Path(__file__).resolve().parents[2]


def rec(i: int, **overrides: object) -> UsageRecord:
    fields: dict[str, object] = dict(
        key_id=f"key{i % 7}",
        route="/v1/chat/completions",
        latency_ms=float(i % 97),
        model="gpt-4o-mini",
        provider="openai",
        tokens_in=100 + i,
        tokens_out=10 + i % 13,
        usage_source="tiktoken",
        cost_usd=(100 + i) * 0.15e-6,
        trace_id=f"trace-{i}",
    )
    fields.update(overrides)
    return UsageRecord(**fields)  # type: ignore[arg-type]


def db_totals(path: Path) -> tuple[int, int, int, float]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT COUNT(*), SUM(tokens_in), SUM(tokens_out), SUM(cost_usd) FROM requests"
        ).fetchone()


def test_thousand_concurrent_records_are_all_written_once(ledger: Ledger, db_path: Path) -> None:
    records = [rec(i) for i in range(1000)]
    barrier = threading.Barrier(20)

    def worker(chunk: list[UsageRecord]) -> None:
        barrier.wait()
        for record in chunk:
            ledger.record(record)

    threads = [threading.Thread(target=worker, args=(records[i::20],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ledger.flush(timeout=10)
    count, t_in, t_out, cost = db_totals(db_path)
    assert count == 1000
    assert t_in == sum(r.tokens_in for r in records)
    assert t_out == sum(r.tokens_out for r in records)
    assert cost == pytest.approx(sum(r.cost_usd or 0 for r in records), rel=1e-12)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT COUNT(DISTINCT trace_id) FROM requests").fetchone()[0] == 1000
        spend = dict(conn.execute("SELECT key_id, cost_usd FROM key_month_spend").fetchall())
    for key in {r.key_id for r in records}:
        expected = sum(r.cost_usd or 0 for r in records if r.key_id == key)
        assert spend[key] == pytest.approx(expected, rel=1e-12)
    stats = ledger.stats()
    assert (stats.enqueued, stats.written, stats.dropped, stats.queued) == (1000, 1000, 0, 0)


def test_close_flushes_everything_queued(db_path: Path) -> None:
    # A long interval, so nothing is written before close() unless close drains.
    ledger = Ledger(db_path, flush_interval_s=60, batch_size=10_000)
    ledger.start()
    for i in range(500):
        ledger.record(rec(i))
    assert ledger.stats().written == 0
    ledger.close()
    assert db_totals(db_path)[0] == 500


def test_record_outside_start_and_close_is_refused(db_path: Path) -> None:
    ledger = Ledger(db_path)
    with pytest.raises(LedgerClosed):
        ledger.record(rec(1))
    ledger.start()
    ledger.close()
    with pytest.raises(LedgerClosed):
        ledger.record(rec(1))
    ledger.close()  # idempotent


def test_all_columns_round_trip(ledger: Ledger, db_path: Path) -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    ledger.record(
        UsageRecord(
            key_id="k1",
            route="/v1/answers",
            latency_ms=12.5,
            outcome="refused",
            audience="manager",
            model="gpt-4o",
            provider="openai",
            prompt_name="rag_answer",
            prompt_version="3",
            tokens_in=11,
            tokens_out=0,
            usage_source="provider",
            cost_usd=None,
            cache_hit=True,
            trace_id="abc",
            status_code=200,
            ts=moment,
        )
    )
    ledger.flush()
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(conn.execute("SELECT * FROM requests").fetchone())
    assert row["ts"] == "2025-03-04T05:06:07.890123Z"
    assert row["outcome"] == "refused" and row["cache_hit"] == 1 and row["cost_usd"] is None
    assert (row["prompt_name"], row["prompt_version"], row["audience"]) == (
        "rag_answer",
        "3",
        "manager",
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"outcome": "fine"},
        {"tokens_in": -1},
        {"latency_ms": float("nan")},
        {"cost_usd": -0.1},
        {"key_id": ""},
    ],
)
def test_bad_records_fail_at_the_call_site(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        rec(1, **bad)


def test_month_spend_counts_queued_rows_before_they_are_written(db_path: Path) -> None:
    ledger = Ledger(db_path, flush_interval_s=60, batch_size=10_000)
    ledger.start()
    try:
        ledger.record(rec(0, key_id="a", cost_usd=0.25))
        ledger.record(rec(1, key_id="a", cost_usd=None))
        ledger.record(rec(2, key_id="b", cost_usd=1.0))
        assert ledger.stats().written == 0
        assert ledger.month_spend("a") == pytest.approx(0.25)
        ledger.flush()
        assert ledger.stats().written == 3
        assert ledger.month_spend("a") == pytest.approx(0.25)
        assert ledger.month_spend("b") == pytest.approx(1.0)
        assert ledger.month_spend("a", at=datetime(2001, 1, 1, tzinfo=UTC)) == 0.0
    finally:
        ledger.close()


def test_a_full_queue_waits_briefly_then_drops_and_counts(db_path: Path) -> None:
    ledger = Ledger(db_path, flush_interval_s=0.01, batch_size=2, max_queue=4, put_timeout_s=0.05)
    ledger.start()
    gate = threading.Event()
    real_commit = ledger._commit

    def stalled_commit(*args: object) -> None:  # a disk that stops answering
        gate.wait(10)
        real_commit(*args)  # type: ignore[arg-type]

    ledger._commit = stalled_commit  # type: ignore[method-assign]
    for i in range(2):
        ledger.record(rec(i))
    deadline = time.monotonic() + 5
    while ledger.stats().queued and time.monotonic() < deadline:
        time.sleep(0.005)  # the writer has taken the first two and is stuck
    for i in range(2, 6):
        ledger.record(rec(i))
    started = time.perf_counter()
    ledger.record(rec(6))
    assert time.perf_counter() - started < 1.0
    assert ledger.stats().dropped == 1
    gate.set()
    ledger.close()
    assert db_totals(db_path)[0] == 6


def test_a_failed_write_is_retried(ledger: Ledger, db_path: Path) -> None:
    real_commit = ledger._commit
    failures = []

    def flaky(*args: object) -> None:
        if not failures:
            failures.append(1)
            raise sqlite3.OperationalError("database is locked")
        real_commit(*args)  # type: ignore[arg-type]

    ledger._commit = flaky  # type: ignore[method-assign]
    ledger.record(rec(1))
    assert ledger.flush(timeout=10)
    assert failures and db_totals(db_path)[0] == 1 and ledger.stats().dropped == 0


CRASH_SCRIPT = """
import os, sys, time
from pathlib import Path
from gateway.usage.ledger import Ledger
from gateway.usage.records import UsageRecord
ledger = Ledger(Path(sys.argv[1]), flush_interval_s=0.25)
ledger.start()
for i in range(300):
    ledger.record(UsageRecord(key_id="k", route="/r", latency_ms=1.0, trace_id=f"early-{i}"))
time.sleep(1.0)
for i in range(50):
    ledger.record(UsageRecord(key_id="k", route="/r", latency_ms=1.0, trace_id=f"late-{i}"))
os._exit(0)  # no close(): as abrupt as a kill
"""


def test_a_crash_loses_at_most_the_last_second(db_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(db_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db_path) as conn:
        early = conn.execute("SELECT COUNT(*) FROM requests WHERE trace_id LIKE 'early-%'")
        assert early.fetchone()[0] == 300
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"


def test_ledger_uses_wal(ledger: Ledger, db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_aclose_drains_from_async_code(db_path: Path) -> None:
    ledger = Ledger(db_path, flush_interval_s=60, batch_size=10_000)
    ledger.start()
    for i in range(50):
        ledger.record(rec(i))
    await ledger.aclose()
    assert db_totals(db_path)[0] == 50


def test_an_unwritable_batch_is_dropped_and_the_writer_survives(
    ledger: Ledger, db_path: Path
) -> None:
    ledger.record(rec(1, tokens_in=2**70))  # too large for SQLite's INTEGER
    assert ledger.flush(timeout=10)
    assert ledger.stats().dropped == 1
    ledger.record(rec(2))
    assert ledger.flush(timeout=10)
    assert db_totals(db_path)[0] == 1 and ledger.stats().written == 1
