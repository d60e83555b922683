"""Usage totals per key, model, prompt version or day - for ``ladder usage`` and GET /v1/usage.

Sums and rates come from SQL; latency percentiles are computed here (SQLite has
no percentile function) with linear interpolation between closest ranks, the
same definition as ``numpy.percentile``'s default, against which it is tested.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

from pydantic import BaseModel

from gateway.usage.errors import LedgerError
from gateway.usage.schema import format_ts

GroupBy = Literal["key", "model", "prompt_version", "day"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
NONE_LABEL = "(none)"

_GROUP_SQL = {
    "key": "key_id",
    "model": f"COALESCE(model, '{NONE_LABEL}')",
    "prompt_version": f"""CASE WHEN prompt_name IS NULL THEN '{NONE_LABEL}'
        WHEN prompt_version IS NULL THEN prompt_name
        ELSE prompt_name || '@' || prompt_version END""",
    "day": "substr(ts, 1, 10)",
}


class UsageRow(BaseModel):
    group: str
    requests: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    unpriced_requests: int  # rows whose model had no known price (cost NULL)
    p50_latency_ms: float
    p95_latency_ms: float
    refusal_rate: float  # share refused or blocked by guardrails
    error_rate: float
    cache_hit_rate: float


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """q-th percentile (0-100) of ascending values, linear interpolation (numpy's default)."""
    if not sorted_values:
        return math.nan
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = rank - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def usage_report(
    conn: sqlite3.Connection,
    group_by: GroupBy = "key",
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    key_id: str | None = None,
) -> list[UsageRow]:
    """Rows ordered by group; ``since`` inclusive, ``until`` exclusive, both UTC."""
    if group_by not in _GROUP_SQL:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, not {group_by!r}")
    group = _GROUP_SQL[group_by]
    where = ["ts >= ?", "ts < ?"]
    params: list[object] = [
        format_ts(since) if since else "",
        format_ts(until) if until else "\uffff",
    ]
    if key_id is not None:
        where.append("key_id = ?")
        params.append(key_id)
    condition = " AND ".join(where)
    totals_sql = f"""
        SELECT {group} AS grp, COUNT(*), SUM(tokens_in), SUM(tokens_out),
               COALESCE(SUM(cost_usd), 0), SUM(cost_usd IS NULL),
               SUM(outcome IN ('refused', 'blocked')), SUM(outcome = 'error'), SUM(cache_hit)
        FROM requests WHERE {condition} GROUP BY grp ORDER BY grp"""
    latency_sql = f"""SELECT {group} AS grp, latency_ms FROM requests
        WHERE {condition} ORDER BY grp, latency_ms"""
    try:
        totals = conn.execute(totals_sql, params).fetchall()
        latencies: dict[str, list[float]] = {}
        for grp, latency in conn.execute(latency_sql, params):
            latencies.setdefault(grp, []).append(latency)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot read the usage ledger: {exc}") from exc
    rows = []
    for grp, n, t_in, t_out, cost, unpriced, refused, errors, hits in totals:
        values = latencies.get(grp, [])
        rows.append(
            UsageRow(
                group=grp,
                requests=n,
                tokens_in=t_in or 0,
                tokens_out=t_out or 0,
                cost_usd=float(cost),
                unpriced_requests=unpriced or 0,
                p50_latency_ms=percentile(values, 50),
                p95_latency_ms=percentile(values, 95),
                refusal_rate=(refused or 0) / n,
                error_rate=(errors or 0) / n,
                cache_hit_rate=(hits or 0) / n,
            )
        )
    return rows


_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """'2025-06-01', '2025-06-01T12:00', '7d', '24h', '30m', '2w' or 'today' -> UTC datetime.

    Times without a zone are UTC, like everything in the ledger.
    """
    now = now or datetime.now(UTC)
    value = text.strip().lower()
    if value == "today":
        return datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use YYYY-MM-DD, an ISO date-time, "
            "'today', or an age like 30m, 24h, 7d, 2w"
        ) from None
    if isinstance(parsed, date) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
