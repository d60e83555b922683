"""Everything the gateway serves with, built once in the app lifespan.

Constructors here are cheap; ``start()`` loads models and indexes, opens
databases and clients. The retrieval snapshot (index + searcher + role
catalog) is swapped as one object on reload, so a request always sees one
consistent index version.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import anyio

from gateway.auth.budget import BudgetGuard
from gateway.auth.keys import KeyStore
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.service import AuthService
from gateway.cache import ResponseCache
from gateway.observability.metrics import Metrics
from gateway.observability.tracing import Telemetry
from gateway.providers.router import Router, RouterObserver, load_routing_config
from gateway.roles import RoleCatalog
from gateway.settings import Settings
from gateway.usage.ledger import Ledger
from gateway.usage.pricing import PriceTable
from gateway.usage.tokens import TokenCounter
from retrieval.config import RetrievalConfig
from retrieval.embedding.base import Embedder
from retrieval.embedding.factory import make_embedder
from retrieval.index.store import LoadedIndex, load_index
from retrieval.searcher import HybridSearcher

log = logging.getLogger("ladder.services")


@dataclass(frozen=True)
class RetrievalSnapshot:
    index: LoadedIndex
    searcher: HybridSearcher
    catalog: RoleCatalog

    @property
    def version(self) -> str:
        return self.index.version


class _MetricsObserver(RouterObserver):
    _STATE: ClassVar[dict[str, int]] = {"closed": 0, "half_open": 1, "open": 2}

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def on_retry(self, provider, error):  # type: ignore[no-untyped-def]
        self._m.provider_retries.labels(provider).inc()

    def on_error(self, provider, error):  # type: ignore[no-untyped-def]
        self._m.provider_errors.labels(provider, type(error).__name__).inc()

    def on_fallback(self, alias, from_provider, to_provider):  # type: ignore[no-untyped-def]
        self._m.fallbacks.labels(alias, from_provider, to_provider).inc()

    def on_breaker_change(self, provider, state):  # type: ignore[no-untyped-def]
        self._m.breaker_state.labels(provider).set(self._STATE[state])


def _retrieval_for_worker(settings: Settings) -> RetrievalConfig:
    """The retrieval config one worker process embeds with: unless set, its ONNX threads
    are its share of the cores (2 workers on 2 cores: 1 each). Measured with the chat
    load at 16 clients: 2 workers x 2 threads used ~18 ms CPU per request, 2 x 1 ~13."""
    retrieval = settings.retrieval
    if retrieval.embedding_threads is not None or settings.workers == 1:
        return retrieval
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere count all cores
    cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return retrieval.model_copy(update={"embedding_threads": max(1, min(2, cores // settings.workers))})


class Services:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.telemetry = Telemetry(settings.telemetry, self.metrics)
        self.embedder = embedder or make_embedder(_retrieval_for_worker(settings), settings.model_cache_dir)
        self.tokens = TokenCounter()
        self.pricing = PriceTable.load(settings.providers.pricing_file)
        self.ledger = Ledger(settings.ledger_path)
        self.auth = AuthService(settings.auth, KeyStore(settings.ledger_path))
        self.limiter = RateLimiter()
        self.budget = BudgetGuard(self.ledger, self.pricing)
        self.cache: ResponseCache = ResponseCache.from_settings(settings.cache)
        self.router = Router(
            load_routing_config(settings.providers.routing_file), settings,
            observer=_MetricsObserver(self.metrics),
        )
        from guardrails.pipeline import GuardPipeline
        from prompts.registry import PromptRegistry

        self.prompts = PromptRegistry.from_settings(settings)
        self.guards = GuardPipeline.from_settings(settings.guards, self.embedder)
        self._snapshot: RetrievalSnapshot | None = None
        self._reload_lock = asyncio.Lock()
        self.started = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        await anyio.to_thread.run_sync(self._start_blocking)
        await self.router.start()
        self.started = True

    def load(self) -> None:
        """The read-only parts: BPE tables, embedding model, index, prompts, guard models.

        ``start()`` calls it; ``ladder serve --workers N`` calls it once in the parent
        before forking, so the workers share these pages (see gateway/cli/prefork.py).
        Opens nothing that a forked process could not use: no database, no thread."""
        if self._snapshot is not None:
            return
        self.tokens.warm_up(t.model for spec in self.router.aliases().values() for t in spec.targets)
        self.embedder.warm_up()
        self._snapshot = self._load_snapshot()
        self.prompts.warm_up()
        self.guards.warm_up()

    def _start_blocking(self) -> None:
        self.load()
        # Per process: SQLite connections and the ledger's writer thread.
        self.ledger.start()
        self.auth.start()

    async def close(self) -> None:
        await self.router.close()
        await anyio.to_thread.run_sync(self._close_blocking)

    def _close_blocking(self) -> None:
        self.ledger.close()
        self.auth.close()
        self.telemetry.shutdown()

    # -- retrieval snapshot --------------------------------------------------------------
    def _load_snapshot(self) -> RetrievalSnapshot:
        index = load_index(self.settings.index_dir, self.embedder)
        searcher = HybridSearcher(index, self.embedder, self.settings.retrieval)
        catalog = RoleCatalog(index.blueprints)
        self.metrics.index_chunks.set(index.size)
        self.metrics.index_info.clear()
        self.metrics.index_info.labels(index.version).set(1)
        return RetrievalSnapshot(index, searcher, catalog)

    @property
    def snapshot(self) -> RetrievalSnapshot:
        if self._snapshot is None:
            raise RuntimeError("services used before start()")
        return self._snapshot

    async def reload_index(self) -> tuple[str, str]:
        """Load the newest complete index and swap it in; in-flight requests keep the old one."""
        async with self._reload_lock:
            old = self.snapshot.version
            fresh = await anyio.to_thread.run_sync(self._load_snapshot)
            self._snapshot = fresh  # one reference assignment: atomic for readers
            log.info("index reloaded: %s -> %s", old, fresh.version)
            return old, fresh.version

    def secrets(self) -> list[str]:
        """Values that must never appear in an answer."""
        key = self.settings.providers.openai_api_key
        return [key.get_secret_value()] if key is not None else []

    def index_dir(self) -> Path:
        return self.settings.index_dir
