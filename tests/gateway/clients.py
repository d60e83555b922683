"""Helpers for the tests that check the gateway's books: concurrent bursts over real HTTP,
and the ledger read back with plain ``sqlite3``, the way an analyst would read it."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.auth.keys import parse_key


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None


def key_id(plain_key: str) -> str:
    parsed = parse_key(plain_key)
    assert parsed is not None, "not a ladder API key"
    return parsed[0]


def burst(base_url: str, key: str, calls: list[Call], in_flight: int) -> list[httpx.Response]:
    """Send every call concurrently, at most ``in_flight`` at a time; responses in call order."""

    async def run() -> list[httpx.Response]:
        gate = asyncio.Semaphore(in_flight)
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        async with httpx.AsyncClient(
            base_url=base_url, headers={"authorization": f"Bearer {key}"}, timeout=120, limits=limits
        ) as client:

            async def one(call: Call) -> httpx.Response:
                async with gate:
                    return await client.request(call.method, call.path, json=call.body)

            return list(await asyncio.gather(*(one(call) for call in calls)))

    return asyncio.run(run())


LEDGER_COLUMNS = ("trace_id", "tokens_in", "tokens_out", "cost_usd", "cache_hit", "outcome", "model", "ts")


def ledger_rows(path: Path, key_id: str) -> list[dict[str, Any]]:
    """Every ledger row of one key, read straight from the database file."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            f"SELECT {', '.join(LEDGER_COLUMNS)} FROM requests WHERE key_id = ? ORDER BY ts", (key_id,)
        ).fetchall()
    return [dict(zip(LEDGER_COLUMNS, row, strict=True)) for row in rows]
