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
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

import anyio
import numpy as np

from gateway.auth.budget import BudgetGuard
from gateway.auth.keys import KeyStore
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.service import AuthService
from gateway.cache import ResponseCache
from gateway.model_pool import THREADS_PER_CORE as MODEL_THREADS_PER_CORE
from gateway.model_pool import ModelPool
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
from retrieval.embedding.onnx_embedder import available_cores
from retrieval.index.store import LoadedIndex, complete_versions, load_index
from retrieval.searcher import HybridSearcher

T = TypeVar("T")
INLINE_SEARCH_MAX_CHUNKS = 20_000
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
    are its share of the cores (2 workers on 2 cores: 1 each), since two sessions each
    spreading over both cores only contend. (Forked workers always get 1: see
    gateway/cli/prefork.py.)"""
    retrieval = settings.retrieval
    if retrieval.embedding_threads is not None or settings.workers == 1:
        return retrieval
    return retrieval.model_copy(update={"embedding_threads": max(1, min(2, available_cores() // settings.workers))})


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
        # Set by the pre-fork parent (gateway/cli/prefork.py) in the workers it forks: the
        # process that relays one worker's index reload to all of them.
        self.supervisor_pid: int | None = None
        self.model_pool = ModelPool(MODEL_THREADS_PER_CORE * available_cores())
        self._reloads: set[asyncio.Task[object]] = set()
        self.started = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.model_pool.start()  # here, not in load(): a pre-fork parent must own no threads
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
        self.model_pool.close()
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

    async def reload_index(self, *, only_if_newer: bool = False) -> tuple[str, str]:
        """Load the newest complete index and swap it in; in-flight requests keep the old one.
        ``only_if_newer``: keep the served index when it already is the newest."""
        async with self._reload_lock:
            old = self.snapshot.version
            if only_if_newer and complete_versions(self.settings.index_dir)[-1:] == [old]:
                return old, old
            fresh = await anyio.to_thread.run_sync(self._load_snapshot)
            self._snapshot = fresh  # one reference assignment: atomic for readers
            log.info("index reloaded: %s -> %s", old, fresh.version)
            return old, fresh.version

    async def run_model(self, call: Callable[[], T]) -> T:
        """Run a call that uses the embedding model (a query embedding; a search of a large
        index) on the model pool (gateway/model_pool.py), first come, first served."""
        return await self.model_pool.run(call)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``: from the embedder's cache, here on the event loop, or else
        from the model alone on a worker thread (``run_model``).

        Only the model call goes to a thread: it releases the GIL and so runs beside the
        loop. The Python around it (BM25 scoring, fusion, a guard's checks) would hold the
        GIL on a thread all the same, and with the vector cached nothing needs a thread at
        all. (When /v1/search sent whole searches to the thread pool, its p50 at 64
        clients was 1.3 s of waiting for a thread; with this, 0.1 s.)"""
        lookup = getattr(self.embedder, "cached", None)
        vectors = lookup(texts) if lookup is not None else None
        if vectors is None:
            vectors = await self.run_model(lambda: self.embedder.embed(texts))
        return vectors

    @staticmethod
    def search_inline(snapshot: RetrievalSnapshot) -> bool:
        """Whether a search with a given query vector runs on the event loop: up to
        ``INLINE_SEARCH_MAX_CHUNKS`` chunks (the blueprint corpus, 1,231 chunks: ~2 ms of
        BM25, faiss and fusion); larger indexes search in a worker thread (100,000 chunks:
        p95 ~19 ms, too long to stall other requests)."""
        return len(snapshot.index.chunks) <= INLINE_SEARCH_MAX_CHUNKS

    def announce_reload(self) -> bool:
        """Ask the pre-fork parent to have every worker reload (False: no parent to ask)."""
        if self.supervisor_pid is None:
            return False
        os.kill(self.supervisor_pid, signal.SIGHUP)
        return True

    def listen_for_reload(self) -> None:
        """In a forked worker: reload the index on SIGHUP (relayed by the parent)."""
        loop = asyncio.get_running_loop()

        def reload() -> None:
            task = loop.create_task(self._reload_quietly())
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, reload)

    async def _reload_quietly(self) -> None:
        try:
            old, new = await self.reload_index(only_if_newer=True)
        except Exception:  # a bad new index: keep serving the old one, say why
            log.exception("index reload on SIGHUP failed; still serving %s", self.snapshot.version)
            return
        if old != new:
            log.info("index reloaded on SIGHUP: %s -> %s", old, new)

    def secrets(self) -> list[str]:
        """Values that must never appear in an answer."""
        key = self.settings.providers.openai_api_key
        return [key.get_secret_value()] if key is not None else []

    def index_dir(self) -> Path:
        return self.settings.index_dir
