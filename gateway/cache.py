"""Exact-match response cache for deterministic requests (temperature 0).

The key is a SHA-256 over everything that decides the answer: the conversation
(each message's role and content, Unicode-NFKC, case-folded, whitespace
collapsed - so "What are  the KPIs?" and "what are the kpis?" share an entry),
the prompt ``name@version``, the index version, the model and the role filter.
Promoting a prompt or rebuilding the index changes the key, so stale answers
are never served; they simply age out (TTL) or fall off the LRU end.

Values are stored as given and handed back as the same object: store immutable
values (a frozen pydantic model) or copy on the way out, e.g.
``hit.model_copy(update={"cached": True})``.

In memory, per process: thread-safe, and async-safe because nothing awaits
while the lock is held.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.settings import CacheSettings

V = TypeVar("V")

_SPACE = re.compile(r"\s+")
KEY_SCHEMA = 1  # bump when the key recipe changes, to orphan old entries


def normalize_text(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _field(message: Any, name: str) -> Any:
    if isinstance(message, Mapping):
        return message.get(name)
    return getattr(message, name, None)


def cache_key(
    *,
    messages: Iterable[Any],
    prompt: str | None,
    index_version: str | None,
    model: str,
    role_filter: str | Iterable[str] | None = None,
) -> str:
    """Hex key for a request; messages are dicts or objects with ``role`` and ``content``."""
    conversation = [
        [
            str(_field(m, "role") or "").strip().lower(),
            normalize_text(str(_field(m, "content") or "")),
        ]
        for m in messages
    ]
    if role_filter is None:
        roles: list[str] | None = None
    elif isinstance(role_filter, str):
        roles = [role_filter.strip().lower()]
    else:
        roles = sorted({r.strip().lower() for r in role_filter})
    payload = json.dumps(
        [KEY_SCHEMA, conversation, prompt, index_version, model, roles],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def is_cacheable(temperature: float | None) -> bool:
    """Only temperature-0 requests repeat; sampled ones must not be replayed."""
    return temperature is not None and temperature == 0


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    evictions: int  # pushed out by the size bound
    expirations: int  # found past their TTL

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class ResponseCache(Generic[V]):
    def __init__(
        self,
        *,
        max_entries: int = 2048,
        ttl_s: float = 3600.0,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_entries < 0 or ttl_s <= 0:
            raise ValueError("max_entries must be >= 0 and ttl_s > 0")
        self._max = max_entries
        self._ttl = ttl_s
        self.enabled = enabled and max_entries > 0
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._expirations = 0

    @classmethod
    def from_settings(cls, settings: CacheSettings) -> ResponseCache[V]:
        return cls(max_entries=settings.max_entries, ttl_s=settings.ttl_s, enabled=settings.enabled)

    def get(self, key: str) -> V | None:
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] <= now:
                del self._entries[key]
                self._expirations += 1
                entry = None
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[1]

    def put(self, key: str, value: V) -> None:
        if not self.enabled:
            return
        expires = self._clock() + self._ttl
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
                self._evictions += 1

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                entries=len(self._entries),
                evictions=self._evictions,
                expirations=self._expirations,
            )
