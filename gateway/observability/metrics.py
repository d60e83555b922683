"""Prometheus metrics, one registry per app instance.

Names are part of the service's interface (dashboards and alerts use them):
gateway/observability/README.md lists every family; change both together.
Label values come from bounded sets only (route templates, model aliases,
provider names, guard names, prompt versions) - never from raw request text,
and never a key id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# Latency buckets from 1 ms to 10 s: extractive answers take milliseconds, LLM calls seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Stage and guard work is sub-millisecond to a few hundred ms: start finer.
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, *_BUCKETS)

# generate_latest() writes the classic text format; say so, whatever newer formats the
# library's CONTENT_TYPE_LATEST names.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# ladder_circuit_state values; gateway/services.py's router observer uses the same scale.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._ledger_watched = False
        # Process CPU/memory/fds and the Python version, as the default registry would show.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.requests = Counter(
            "ladder_requests", "HTTP requests", ["route", "model", "provider", "status"], registry=r
        )
        self.request_latency = Histogram(
            "ladder_request_duration_seconds", "Request latency", ["route", "model", "provider", "status"],
            buckets=_BUCKETS, registry=r,
        )
        self.outcomes = Counter(
            "ladder_request_outcomes", "Pipeline outcomes (ok, refused, blocked, error)",
            ["route", "outcome"], registry=r,
        )
        self.blocked = Counter(
            "ladder_blocked_requests", "Requests a guard stopped (blocked as an attack or refused)",
            ["route", "stage", "guard", "action"], registry=r,
        )
        self.stage_latency = Histogram(
            "ladder_stage_duration_seconds", "Pipeline stage latency", ["stage"],
            buckets=_STAGE_BUCKETS, registry=r,
        )
        self.guard_latency = Histogram(
            "ladder_guard_duration_seconds", "Latency of one guard check", ["guard", "stage"],
            buckets=_STAGE_BUCKETS, registry=r,
        )
        self.tokens = Counter(
            "ladder_tokens", "Tokens counted", ["direction", "model", "prompt_version"], registry=r
        )
        self.cost = Counter("ladder_cost_usd", "Cost in USD", ["model", "prompt_version"], registry=r)
        self.guard_verdicts = Counter(
            "ladder_guard_verdicts", "Guard verdicts", ["guard", "action"], registry=r
        )
        self.provider_errors = Counter(
            "ladder_provider_errors", "Provider call failures", ["provider", "kind"], registry=r
        )
        self.provider_retries = Counter("ladder_provider_retries", "Provider retries", ["provider"], registry=r)
        self.fallbacks = Counter(
            "ladder_provider_fallbacks", "Fallbacks to a later target", ["alias", "from_provider", "to_provider"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "ladder_circuit_state", "Circuit breaker state (0 closed, 1 half-open, 2 open)", ["provider"], registry=r
        )
        self.index_chunks = Gauge("ladder_index_chunks", "Chunks in the served index", registry=r)
        self.index_info = Gauge("ladder_index_info", "Served index version (value 1)", ["version"], registry=r)
        self.cache_events = Counter("ladder_response_cache", "Response cache lookups", ["result"], registry=r)

    def watch_ledger(self, ledger: _HasStats) -> None:
        """Expose the usage ledger's own counters (read at scrape time, nothing to update).
        Idempotent: one app may be built around the same services more than once."""
        if not self._ledger_watched:
            self.registry.register(_LedgerCollector(ledger))
            self._ledger_watched = True

    def seed_breakers(self, states: Mapping[str, str]) -> None:
        for provider, state in states.items():
            self.breaker_state.labels(provider).set(BREAKER_STATES[state])

    def exposition(self) -> bytes:
        """The registry in Prometheus text format (what GET /metrics serves)."""
        return generate_latest(self.registry)


class _LedgerStats(Protocol):
    written: int
    dropped: int
    queued: int


class _HasStats(Protocol):
    def stats(self) -> _LedgerStats: ...


class _LedgerCollector:
    def __init__(self, ledger: _HasStats) -> None:
        self._ledger = ledger

    def collect(self) -> Iterator[Metric]:
        stats = self._ledger.stats()
        rows = CounterMetricFamily(
            "ladder_ledger_rows", "Usage-ledger rows by fate (dropped: lost to a full queue or failed writes)",
            labels=["state"],
        )
        rows.add_metric(["written"], stats.written)
        rows.add_metric(["dropped"], stats.dropped)
        yield rows
        yield GaugeMetricFamily("ladder_ledger_queue_rows", "Usage-ledger rows waiting to be committed",
                                value=stats.queued)
