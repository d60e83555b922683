"""A bounded, thread-safe LRU cache of query embeddings, keyed by the exact query text.

Users repeat queries (retries, the same question from several people, eval reruns);
a hit costs a dict lookup and a 1.5 KB copy instead of a model call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


class QueryCache:
    """LRU over ``text -> vector``. ``maxsize=0`` disables storing (every lookup misses)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError(f"cache maxsize must be >= 0, got {maxsize}")
        self._maxsize = maxsize
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, text: str) -> np.ndarray | None:
        """A private copy of the cached vector, or None. Counts a hit or a miss."""
        with self._lock:
            vector = self._entries.get(text)
            if vector is None:
                self._misses += 1
                return None
            self._entries.move_to_end(text)
            self._hits += 1
        # Copies, so a caller normalizing or editing its result in place cannot
        # change what the next caller receives.
        return vector.copy()

    def put(self, text: str, vector: np.ndarray) -> None:
        if self._maxsize == 0:
            return
        stored = np.array(vector, dtype=np.float32, copy=True)
        stored.flags.writeable = False
        with self._lock:
            self._entries[text] = stored
            self._entries.move_to_end(text)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, self._maxsize, len(self._entries))

    def clear(self) -> None:
        """Drop entries and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._hits = 0
            self._misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, text: object) -> bool:
        with self._lock:
            return text in self._entries
