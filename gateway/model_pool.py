"""The threads that run embedding-model calls, apart from the event loop.

A model call (ONNX Runtime) releases the GIL, so on a worker thread it runs beside the
event loop. Everything else a request does holds the GIL and stays on the loop; only
the model call is sent here (see ``Services.embed``).

A dedicated pool rather than anyio's shared one, because:

* it bounds the calls in flight (a burst of dozens, unbounded, fought the loop for the
  GIL: at 64 clients on 2 cores p95 reached ~3 s) and queues the rest first come,
  first served;
* a thread takes the next call the moment one ends. An anyio ``CapacityLimiter`` frees
  its slot only when the event loop gets round to the finished call; under load that
  took ~100 ms per call, so model-needing requests queued 1-2 s while cheap ones passed.
  Measured at 64 clients, 30 s of mixed traffic, 1 worker: limiter 105.6 req/s, p95
  2.0 s, p99 2.7 s; this pool 117.5-121.6 req/s, p95 1.1 s, p99 1.4 s.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Threads per core. 1 and 3 measured the same within noise at 64 clients (116.0 vs
# 121.6 req/s); 3 lets a slow call (a long batch) not hold up the queries behind it.
THREADS_PER_CORE = 3


class ModelPool:
    """``start()`` makes the threads' pool (threads themselves start on first use);
    ``run(call)`` awaits ``call()`` on one of them; ``close()`` drops queued calls."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"a model pool needs at least 1 thread, got {threads}")
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        # Not in a constructor that a pre-fork parent runs: each process makes its own.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="ladder-model")

    async def run(self, call: Callable[[], T]) -> T:
        """``call()`` on a pool thread, in a copy of the caller's context (its trace span
        and request facts), once the calls queued before it have started."""
        if self._executor is None:
            raise RuntimeError("model pool used before start() or after close()")
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._executor, context.run, call)

    def close(self) -> None:
        """Queued calls are cancelled (their requests are being torn down); one that is
        running finishes on its thread without being waited for."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
