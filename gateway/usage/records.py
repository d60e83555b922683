"""The plain data the ledger stores: one ``UsageRecord`` per gateway request."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

from gateway.usage.schema import format_ts

Outcome = Literal["ok", "refused", "blocked", "error"]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))

COLUMNS = (
    "ts",
    "key_id",
    "audience",
    "route",
    "model",
    "provider",
    "prompt_name",
    "prompt_version",
    "tokens_in",
    "tokens_out",
    "usage_source",
    "cost_usd",
    "latency_ms",
    "outcome",
    "cache_hit",
    "trace_id",
    "status_code",
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What happened on one request. ``cost_usd`` is None when the model has no known price.

    A cache hit is recorded with ``cache_hit=True`` and ``cost_usd=0.0``: nothing was
    billed, but its tokens still show what the answer would have cost.
    """

    key_id: str
    route: str
    latency_ms: float
    outcome: Outcome = "ok"
    audience: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    usage_source: str | None = None
    cost_usd: float | None = None
    cache_hit: bool = False
    trace_id: str | None = None
    status_code: int | None = 200
    ts: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        # A bad record is a programming error in the caller; fail loudly at the call site
        # rather than inside the writer thread, where it would cost a whole batch.
        if not self.key_id:
            raise ValueError("UsageRecord.key_id must not be empty")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"UsageRecord.outcome must be one of {sorted(OUTCOMES)}")
        if self.tokens_in < 0 or self.tokens_out < 0:
            raise ValueError("UsageRecord token counts must be >= 0")
        if not math.isfinite(self.latency_ms) or self.latency_ms < 0:
            raise ValueError("UsageRecord.latency_ms must be a finite number >= 0")
        if self.cost_usd is not None and (not math.isfinite(self.cost_usd) or self.cost_usd < 0):
            raise ValueError("UsageRecord.cost_usd must be None or a finite number >= 0")

    @property
    def prompt(self) -> str | None:
        """``name@version`` as the reports show it."""
        if self.prompt_name is None:
            return None
        return (
            f"{self.prompt_name}@{self.prompt_version}" if self.prompt_version else self.prompt_name
        )

    def as_row(self) -> tuple[object, ...]:
        return (
            format_ts(self.ts),
            self.key_id,
            self.audience,
            self.route,
            self.model,
            self.provider,
            self.prompt_name,
            self.prompt_version,
            int(self.tokens_in),
            int(self.tokens_out),
            self.usage_source,
            self.cost_usd,
            float(self.latency_ms),
            self.outcome,
            1 if self.cache_hit else 0,
            self.trace_id,
            self.status_code,
        )
