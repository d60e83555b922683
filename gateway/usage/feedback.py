"""Thumbs up/down on answers, posted by the web chat and exported for evaluation.

One rating per (trace, key): a user who changes their mind replaces the first
vote instead of adding a second. Feedback is rare, so it is written directly,
not through the ledger's batch queue.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from gateway.usage.errors import InvalidFeedback, LedgerError
from gateway.usage.schema import format_ts, parse_ts

MAX_COMMENT_CHARS = 2000
MAX_ID_CHARS = 200


class Feedback(BaseModel):
    trace_id: str
    key_id: str
    rating: Literal[-1, 1]
    comment: str | None = None
    created_at: datetime
    # From the ledger row of the same trace, when it has been written.
    route: str | None = None
    model: str | None = None
    prompt: str | None = None


def record_feedback(
    conn: sqlite3.Connection,
    trace_id: str,
    key_id: str,
    rating: int,
    comment: str | None = None,
    *,
    now: datetime | None = None,
) -> Feedback:
    if not trace_id or len(trace_id) > MAX_ID_CHARS:
        raise InvalidFeedback(f"trace_id must be 1-{MAX_ID_CHARS} characters", param="trace_id")
    if not key_id:
        raise InvalidFeedback("key_id must not be empty", param="key_id")
    if isinstance(rating, bool) or rating not in (1, -1):
        raise InvalidFeedback("rating must be +1 (thumbs up) or -1 (thumbs down)", param="rating")
    if comment is not None:
        comment = comment.strip() or None
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise InvalidFeedback(
            f"comment is longer than {MAX_COMMENT_CHARS} characters", param="comment"
        )
    created = now or datetime.now(UTC)
    try:
        conn.execute(
            """INSERT INTO feedback (trace_id, key_id, rating, comment, created_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (trace_id, key_id) DO UPDATE SET
                   rating = excluded.rating, comment = excluded.comment,
                   created_at = excluded.created_at""",
            (trace_id, key_id, int(rating), comment, format_ts(created)),
        )
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot store feedback: {exc}") from exc
    return Feedback(
        trace_id=trace_id,
        key_id=key_id,
        rating=1 if rating > 0 else -1,
        comment=comment,
        created_at=parse_ts(format_ts(created)),
    )


_EXPORT = """
    SELECT f.trace_id, f.key_id, f.rating, f.comment, f.created_at, r.route, r.model,
           CASE WHEN r.prompt_name IS NULL THEN NULL
                WHEN r.prompt_version IS NULL THEN r.prompt_name
                ELSE r.prompt_name || '@' || r.prompt_version END
    FROM feedback f
    LEFT JOIN requests r ON r.id = (
        SELECT MAX(id) FROM requests WHERE trace_id = f.trace_id
    )
    WHERE f.created_at >= ? AND f.created_at < ?
    ORDER BY f.created_at, f.id
"""


def export_feedback(
    conn: sqlite3.Connection, since: datetime | None = None, until: datetime | None = None
) -> list[Feedback]:
    low = format_ts(since) if since else ""
    high = format_ts(until) if until else "\uffff"
    try:
        rows = conn.execute(_EXPORT, (low, high)).fetchall()
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot read feedback: {exc}") from exc
    return [
        Feedback(
            trace_id=row[0],
            key_id=row[1],
            rating=row[2],
            comment=row[3],
            created_at=parse_ts(row[4]),
            route=row[5],
            model=row[6],
            prompt=row[7],
        )
        for row in rows
    ]
