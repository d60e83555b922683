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
while the lock is held. Bounded twice: by entries and by an estimate of the
bytes the values hold (``approx_size``). Answers differ a lot in size (a KPI
table with 30 cited rows against a one-line refusal), so a count alone says
little about memory; the byte bound is what keeps a long-running process flat.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
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
KEY_SCHEMA = 2  # bump when the key recipe changes, to orphan old entries


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
    max_tokens: int | None = None,
) -> str:
    """Hex key for a request; messages are dicts or objects with ``role`` and ``content``.

    ``max_tokens`` is the limit the provider is sent: a shorter limit cuts the answer, so
    it must not be served a longer one (or the reverse)."""
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
        [KEY_SCHEMA, conversation, prompt, index_version, model, roles, max_tokens],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def is_cacheable(temperature: float | None) -> bool:
    """Only temperature-0 requests repeat; sampled ones must not be replayed."""
    return temperature is not None and temperature == 0


def approx_size(value: Any, _seen: set[int] | None = None) -> int:
    """Bytes a value holds: ``sys.getsizeof`` summed over its dataclass fields, pydantic
    fields, containers and strings (shared objects counted once). An estimate for a
    memory bound, not an exact figure: allocator overhead is not included."""
    seen = _seen if _seen is not None else set()
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return size
    if isinstance(value, Mapping):
        return size + sum(approx_size(k, seen) + approx_size(v, seen) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return size + sum(approx_size(item, seen) for item in value)
    if dataclasses.is_dataclass(value):
        fields = [getattr(value, f.name) for f in dataclasses.fields(value)]
        return size + sum(approx_size(item, seen) for item in fields)
    if hasattr(value, "__pydantic_fields__"):
        return size + sum(approx_size(getattr(value, name), seen) for name in type(value).__pydantic_fields__)
    return size + (approx_size(vars(value), seen) if hasattr(value, "__dict__") else 0)


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    evictions: int  # pushed out by the size bounds
    expirations: int  # found past their TTL
    bytes: int = 0  # approx_size of the values held

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
        max_bytes: int | None = None,
        sizeof: Callable[[V], int] = approx_size,
    ):
        if max_entries < 0 or ttl_s <= 0 or (max_bytes is not None and max_bytes < 0):
            raise ValueError("max_entries and max_bytes must be >= 0 and ttl_s > 0")
        self._max = max_entries
        self._max_bytes = max_bytes
        self._sizeof = sizeof
        self._ttl = ttl_s
        self.enabled = enabled and max_entries > 0 and max_bytes != 0
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._expirations = 0

    @classmethod
    def from_settings(cls, settings: CacheSettings) -> ResponseCache[V]:
        return cls(
            max_entries=settings.max_entries, ttl_s=settings.ttl_s, enabled=settings.enabled,
            max_bytes=int(settings.max_mb * 1024 * 1024),
        )

    def get(self, key: str) -> V | None:
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] <= now:
                self._drop(key)
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
        size = self._sizeof(value) if self._max_bytes is not None else 0
        if self._max_bytes is not None and size > self._max_bytes:
            return  # larger than the whole budget: keeping it would evict everything
        with self._lock:
            self._drop(key)
            self._entries[key] = (expires, value, size)
            self._bytes += size
            while len(self._entries) > self._max or (
                self._max_bytes is not None and self._bytes > self._max_bytes
            ):
                oldest = next(iter(self._entries))
                self._drop(oldest)
                self._evictions += 1

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

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
                bytes=self._bytes,
            )
