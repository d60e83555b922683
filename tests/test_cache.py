"""Response cache: key normalisation, what the key includes, TTL, LRU bound, counters."""

from __future__ import annotations

import threading

import pytest
from pydantic import BaseModel, ConfigDict

from gateway.cache import ResponseCache, cache_key, is_cacheable, normalize_text
from gateway.settings import CacheSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    cached: bool = False


BASE = dict(
    messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What are the KPIs for a Staff Applied AI Engineer?"},
    ],
    prompt="rag_answer@3",
    index_version="idx-20250601",
    model="ladder-extractive",
    role_filter="staff-applied-ai-engineer",
)


def key(**changes: object) -> str:
    return cache_key(**{**BASE, **changes})  # type: ignore[arg-type]


def test_whitespace_case_and_unicode_forms_share_a_key() -> None:
    variant = [
        {"role": "SYSTEM", "content": "  be   brief. "},
        {"role": "user", "content": "what are the kpis\nfor a STAFF applied ai engineer?"},
    ]
    assert key(messages=variant) == key()
    assert normalize_text("Ｓｔａｆｆ\u00a0Engineer") == "staff engineer"  # NFKC: full-width, nbsp


def test_messages_may_be_objects_with_role_and_content() -> None:
    class Msg:
        def __init__(self, role: str, content: str):
            self.role, self.content = role, content

    assert key(messages=[Msg(m["role"], m["content"]) for m in BASE["messages"]]) == key()  # type: ignore[index]


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "rag_answer@4"},  # a prompt promotion
        {"index_version": "idx-20250602"},  # a reindex
        {"model": "gpt-4o-mini"},
        {"max_tokens": 50},  # a shorter limit cuts the answer
        {"role_filter": "data-engineer"},
        {"role_filter": None},
        {"messages": BASE["messages"][:1] + [{"role": "user", "content": "What are the skills?"}]},
        {"messages": [{"role": "user", "content": "Be brief."}] + BASE["messages"][1:]},
    ],
)
def test_everything_that_decides_the_answer_is_in_the_key(change: dict[str, object]) -> None:
    assert key(**change) != key()


def test_role_filter_order_does_not_matter() -> None:
    assert key(role_filter=["b", "a"]) == key(role_filter=["a", "B"])


def test_only_temperature_zero_is_cacheable() -> None:
    assert is_cacheable(0) and is_cacheable(0.0)
    assert not is_cacheable(0.7) and not is_cacheable(None)


def test_hit_miss_and_stats() -> None:
    cache: ResponseCache[Answer] = ResponseCache(max_entries=10, ttl_s=60)
    assert cache.get(key()) is None
    cache.put(key(), Answer(text="KPIs: ..."))
    hit = cache.get(key())
    assert hit == Answer(text="KPIs: ...")
    assert hit.model_copy(update={"cached": True}).cached  # how the gateway marks a hit
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 1, 1)
    assert stats.hit_rate == 0.5


def test_ttl_expires_entries() -> None:
    clock = Clock()
    cache: ResponseCache[str] = ResponseCache(max_entries=10, ttl_s=30, clock=clock)
    cache.put("k", "v")
    clock.now = 29.9
    assert cache.get("k") == "v"
    clock.now = 30.0
    assert cache.get("k") is None
    assert cache.stats().expirations == 1 and len(cache) == 0


def test_lru_evicts_the_least_recently_used() -> None:
    cache: ResponseCache[int] = ResponseCache(max_entries=3, ttl_s=60)
    for name in "abc":
        cache.put(name, ord(name))
    assert cache.get("a") == ord("a")  # a is now the most recent
    cache.put("d", 4)
    assert cache.get("b") is None
    assert [cache.get(n) for n in "acd"] == [ord("a"), ord("c"), 4]
    assert cache.stats().evictions == 1 and len(cache) == 3


def test_put_refreshes_an_existing_entry() -> None:
    clock = Clock()
    cache: ResponseCache[str] = ResponseCache(max_entries=2, ttl_s=10, clock=clock)
    cache.put("k", "old")
    clock.now = 8
    cache.put("k", "new")
    clock.now = 15
    assert cache.get("k") == "new"


def test_disabled_cache_stores_nothing() -> None:
    for cache in (
        ResponseCache[str].from_settings(CacheSettings(enabled=False)),
        ResponseCache[str].from_settings(CacheSettings(max_entries=0)),
    ):
        cache.put("k", "v")
        assert cache.get("k") is None and len(cache) == 0


def test_concurrent_use_keeps_the_bound_and_the_counts() -> None:
    cache: ResponseCache[int] = ResponseCache(max_entries=50, ttl_s=60)

    def worker(offset: int) -> None:
        for i in range(500):
            cache.put(f"{(offset + i) % 120}", i)
            cache.get(f"{(offset * 7 + i) % 120}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = cache.stats()
    assert stats.hits + stats.misses == 8 * 500
    assert stats.entries == len(cache) == 50  # 120 distinct keys through a bound of 50
    assert 0 < stats.evictions <= 8 * 500 - 50


def test_byte_budget_evicts_the_oldest_until_the_values_fit() -> None:
    cache: ResponseCache[str] = ResponseCache(max_entries=100, ttl_s=60, max_bytes=300, sizeof=len)
    for name in "abc":
        cache.put(name, name * 100)  # 100 "bytes" each: exactly the budget
    assert cache.stats().bytes == 300 and len(cache) == 3
    cache.get("a")  # recently used: survives the next eviction
    cache.put("d", "d" * 150)
    assert cache.get("b") is None and cache.get("c") is None
    assert cache.get("a") == "a" * 100 and cache.get("d") == "d" * 150
    assert cache.stats().bytes == 250 and cache.stats().evictions == 2
    cache.put("a", "a" * 10)  # replacing an entry releases its old size
    assert cache.stats().bytes == 160
    cache.put("huge", "x" * 301)  # larger than the whole budget: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 2
    cache.invalidate("d")
    assert cache.stats().bytes == 10
    cache.clear()
    assert cache.stats().bytes == 0


def test_approx_size_counts_nested_answers_and_shared_objects_once() -> None:
    from dataclasses import dataclass

    from gateway.cache import approx_size

    @dataclass(frozen=True)
    class Result:
        answer: str
        citations: list[Answer]

    text = "x" * 10_000
    small = Result("short", [Answer(text="a")])
    large = Result("long", [Answer(text=text), Answer(text=text + "y")])
    assert approx_size(large) > 20_000 > approx_size(small)
    shared = Answer(text=text)
    assert approx_size(Result("s", [shared, shared])) < approx_size(large)


def test_settings_budget_reaches_the_cache() -> None:
    cache = ResponseCache[str].from_settings(CacheSettings(max_mb=0.001))
    cache.put("k", "v" * 2000)  # ~2 kB > 1 kB budget
    assert cache.get("k") is None
    assert not ResponseCache[str].from_settings(CacheSettings(max_mb=0)).enabled
