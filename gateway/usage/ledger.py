"""The usage ledger: one SQLite row per request, written off the response path.

``record()`` appends to an in-memory queue and returns (a lock and an append,
microseconds). One background thread owns the write connection and commits
what is queued every ``flush_interval_s`` (0.25 s), or as soon as ``batch_size``
rows are waiting, in transactions of at most ``batch_size`` rows. So:

* a clean shutdown loses nothing: ``close()`` stops intake, drains and commits;
* a crash loses at most the rows of the last interval (< 1 s);
* the queue is bounded (``max_queue``): if the disk stalls, ``record()`` waits up
  to ``put_timeout_s`` for room, then drops the row with an error log and counts
  it in ``stats().dropped`` - metering must not take the service down with it.

Budgets read month-to-date spend from ``key_month_spend`` (kept in the same
transaction as the rows) plus the cost of rows still queued, so a request
recorded a millisecond ago already counts. A row can be counted twice for the
microseconds between its commit and its removal from the queued total - the
check errs towards refusing, never towards overspending.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from gateway.usage import feedback as feedback_store
from gateway.usage import reports
from gateway.usage.errors import LedgerClosed, LedgerError
from gateway.usage.records import COLUMNS, UsageRecord
from gateway.usage.schema import connect, format_ts, open_database

logger = logging.getLogger(__name__)

_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_UPSERT_SPEND = """
    INSERT INTO key_month_spend (key_id, month, cost_usd, requests) VALUES (?, ?, ?, ?)
    ON CONFLICT (key_id, month) DO UPDATE SET
        cost_usd = cost_usd + excluded.cost_usd, requests = requests + excluded.requests
"""
_TS, _KEY, _COST = COLUMNS.index("ts"), COLUMNS.index("key_id"), COLUMNS.index("cost_usd")
_WRITE_ATTEMPTS = 5
_PROBE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class LedgerStats:
    enqueued: int
    written: int
    dropped: int
    queued: int
    batches: int


def _month_totals(rows: list[tuple[object, ...]]) -> dict[tuple[str, str], list[float]]:
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for row in rows:
        slot = totals[(str(row[_KEY]), str(row[_TS])[:7])]
        slot[0] += float(row[_COST] or 0.0)  # type: ignore[arg-type]
        slot[1] += 1
    return totals


class Ledger:
    """Batched, thread-safe usage ledger. ``start()`` before use, ``close()`` at shutdown."""

    def __init__(
        self,
        path: Path,
        *,
        flush_interval_s: float = 0.25,
        batch_size: int = 512,
        max_queue: int = 20_000,
        put_timeout_s: float = 1.0,
    ):
        if flush_interval_s <= 0 or batch_size < 1 or max_queue < batch_size:
            raise ValueError("need flush_interval_s > 0 and 1 <= batch_size <= max_queue")
        self.path = Path(path)
        self._interval = flush_interval_s
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._put_timeout = put_timeout_s
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._queue: list[tuple[object, ...]] = []
        self._queued_spend: dict[tuple[str, str], float] = defaultdict(float)
        self._accepting = False
        self._stopping = False
        self._flush_requested = False
        self._enqueued = self._done = self._written = self._dropped = self._batches = 0
        self._last_write_failed = False
        self._writer: threading.Thread | None = None
        self._write_conn: sqlite3.Connection | None = None
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Open and migrate the database, start the writer. Idempotent."""
        with self._lock:
            if self._writer is not None:
                return
            self._write_conn = open_database(self.path)
            self._accepting, self._stopping = True, False
            self._writer = threading.Thread(target=self._run, name="ladder-ledger", daemon=True)
            self._writer.start()

    warm_up = start

    def close(self, timeout: float = 30.0) -> None:
        """Stop intake, commit everything queued, close connections. Idempotent."""
        with self._lock:
            writer, self._writer = self._writer, None
            self._accepting = False
            self._stopping = True
            self._has_work.notify()
            self._progress.notify_all()
        if writer is not None:
            writer.join(timeout)
            if writer.is_alive():
                logger.error("ledger writer did not finish within %.1fs; rows may be lost", timeout)
        with self._lock:
            conns, self._reader_conns = self._reader_conns, []
            if self._write_conn is not None and (writer is None or not writer.is_alive()):
                conns.append(self._write_conn)
                self._write_conn = None
        for conn in conns:
            conn.close()
        self._readers = threading.local()

    async def aclose(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.close, timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------
    def record(self, record: UsageRecord) -> None:
        """Queue one row; returns at once unless the queue is full (then waits briefly)."""
        row = record.as_row()
        with self._lock:
            if len(self._queue) >= self._max_queue and self._accepting:
                self._progress.wait_for(
                    lambda: len(self._queue) < self._max_queue or not self._accepting,
                    timeout=self._put_timeout,
                )
            if not self._accepting:
                raise LedgerClosed("the ledger is not running (start() it; or it was closed)")
            if len(self._queue) >= self._max_queue:
                self._dropped += 1
                dropped = self._dropped
            else:
                dropped = 0
                self._append(record, row)
        # Outside the lock, and not once per row: an overloaded disk must not also flood logs.
        if dropped == 1 or (dropped and dropped % 1000 == 0):
            logger.error(
                "ledger queue full for %.1fs; %d row(s) dropped so far", self._put_timeout, dropped
            )

    def _append(self, record: UsageRecord, row: tuple[object, ...]) -> None:
        # Caller holds self._lock.
        self._queue.append(row)
        self._enqueued += 1
        if record.cost_usd:
            self._queued_spend[(record.key_id, str(row[_TS])[:7])] += record.cost_usd
        if len(self._queue) == self._batch_size:
            self._has_work.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every row queued before this call is committed; False on timeout."""
        with self._lock:
            target = self._enqueued
            if self._writer is None:
                return self._done >= target
            self._flush_requested = True
            self._has_work.notify()
            return self._progress.wait_for(lambda: self._done >= target, timeout=timeout)

    def _run(self) -> None:
        backlog = False
        while True:
            with self._lock:
                if not backlog:
                    self._has_work.wait_for(
                        lambda: (
                            len(self._queue) >= self._batch_size
                            or self._stopping
                            or self._flush_requested
                        ),
                        timeout=self._interval,
                    )
                # At most batch_size rows per transaction: a short commit frees queue room
                # often and holds the GIL in short stretches. Left-overs go next, unwaited.
                batch = self._queue[: self._batch_size]
                del self._queue[: self._batch_size]
                backlog = bool(self._queue)
                if not backlog:
                    self._flush_requested = False
                stopping = self._stopping
                self._progress.notify_all()  # room in the queue
            if batch:
                self._write(batch)
            elif stopping:
                return

    def _write(self, batch: list[tuple[object, ...]]) -> None:
        totals = _month_totals(batch)
        spend_rows = [(key, month, cost, int(n)) for (key, month), (cost, n) in totals.items()]
        written = False
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                self._commit(batch, spend_rows)
                written = True
                break
            except sqlite3.Error as exc:  # locked, disk full, I/O: worth retrying
                logger.warning(
                    "ledger write of %d rows failed (attempt %d/%d): %s",
                    len(batch),
                    attempt,
                    _WRITE_ATTEMPTS,
                    exc,
                )
                time.sleep(min(2.0, 0.05 * 2**attempt))
            except Exception:
                # Not retryable (a value SQLite cannot bind). The writer thread must survive
                # it, or every later request would queue into a ledger nobody drains.
                logger.exception("ledger write of %d rows failed; not retrying", len(batch))
                break
        if not written:
            logger.error(
                "ledger dropped %d rows after %d failed writes", len(batch), _WRITE_ATTEMPTS
            )
        with self._lock:
            self._done += len(batch)
            self._last_write_failed = not written
            if written:
                self._written += len(batch)
                self._batches += 1
            else:
                self._dropped += len(batch)
            for slot, (cost, _) in totals.items():
                left = self._queued_spend.get(slot, 0.0) - cost
                if left > 1e-12:
                    self._queued_spend[slot] = left
                else:
                    self._queued_spend.pop(slot, None)
            self._progress.notify_all()

    def _commit(
        self, batch: Sequence[tuple[object, ...]], spend_rows: Sequence[tuple[object, ...]]
    ) -> None:
        conn = self._write_conn
        if conn is None:
            raise sqlite3.OperationalError("write connection is closed")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT, batch)
            conn.executemany(_UPSERT_SPEND, spend_rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- reading -------------------------------------------------------------------
    def _thread_conn(self) -> sqlite3.Connection:
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            if self._write_conn is None:
                raise LedgerClosed("the ledger is not running (start() it; or it was closed)")
            conn = connect(self.path)
            self._readers.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    def month_spend(self, key_id: str, at: datetime | None = None) -> float:
        """USD spent by ``key_id`` in the UTC calendar month of ``at`` (default now)."""
        month = format_ts(at or datetime.now(UTC))[:7]
        # Queued first, database second: a row committed in between is counted twice
        # (conservative), never zero times.
        with self._lock:
            queued = self._queued_spend.get((key_id, month), 0.0)
        try:
            found = (
                self._thread_conn()
                .execute(
                    "SELECT cost_usd FROM key_month_spend WHERE key_id = ? AND month = ?",
                    (key_id, month),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read month-to-date spend: {exc}") from exc
        return queued + (float(found[0]) if found else 0.0)

    def usage_report(
        self,
        group_by: reports.GroupBy = "key",
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        key_id: str | None = None,
    ) -> list[reports.UsageRow]:
        """Totals per group over committed rows (queued rows appear within ``flush_interval_s``)."""
        return reports.usage_report(self._thread_conn(), group_by, since, until, key_id=key_id)

    def record_feedback(
        self, trace_id: str, key_id: str, rating: int, comment: str | None = None
    ) -> feedback_store.Feedback:
        """Store a thumbs up (+1) or down (-1); a second post for the same trace replaces it."""
        return feedback_store.record_feedback(
            self._thread_conn(), trace_id, key_id, rating, comment
        )

    def export_feedback(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[feedback_store.Feedback]:
        return feedback_store.export_feedback(self._thread_conn(), since, until)

    def writable(self) -> bool:
        """Readiness probe: the writer thread runs, its last batch committed, and the database
        grants a write lock now (``BEGIN IMMEDIATE`` then ``ROLLBACK``: nothing is written).
        Waits at most ``_PROBE_TIMEOUT_S`` for the lock, so a busy database reads as not ready
        instead of hanging the probe."""
        with self._lock:
            writer = self._writer
            if not self._accepting or writer is None or not writer.is_alive() or self._last_write_failed:
                return False
        try:
            # mode=rw: a probe must never create the file it checks.
            uri = f"{self.path.resolve().as_uri()}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=_PROBE_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error:
            return False
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False
        finally:
            conn.close()

    def stats(self) -> LedgerStats:
        with self._lock:
            return LedgerStats(
                enqueued=self._enqueued,
                written=self._written,
                dropped=self._dropped,
                queued=len(self._queue),
                batches=self._batches,
            )
