"""Fault run: the LLM upstream dies under load and comes back.

    python bench/load/fault.py --write-md

The gateway's default model is ``ladder-chat`` (the ``openai`` provider to the fake
upstream, answering after 50 ms; fallback: extractive). Timeline, under steady mixed load
(answers + streaming chat), response cache off so every request reaches the router:

    0 .. --healthy s          upstream up
    kill (SIGTERM)            upstream process gone: connections refused
    .. --down s later         upstream restarted on the same port
    .. --recovery s later     end

Expected: no 5xx reaches a client (requests fall back to extractive), the circuit
breaker opens (``ladder_circuit_state{provider="upstream"}`` = 2) after 5 consecutive
failures, and closes (0) after the restart once the cool-down (30 s in routing.yaml)
lets a probe through. /metrics is polled every second for the breaker state.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import aiohttp
import harness
import workload

_STATE = re.compile(r'^ladder_circuit_state\{provider="upstream"\}\s+([0-9.]+)', re.MULTILINE)
_NAMES = {0: "closed", 1: "half-open", 2: "open"}


async def breaker_states(url: str, until: float, every: float = 1.0) -> list[tuple[float, int | None]]:
    states: list[tuple[float, int | None]] = []
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < until:
            try:
                async with session.get(f"{url}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as response:
                    match = _STATE.search(await response.text())
                    states.append((time.perf_counter(), int(float(match.group(1))) if match else None))
            except (TimeoutError, aiohttp.ClientError):
                states.append((time.perf_counter(), None))
            await asyncio.sleep(every)
    return states


def phase_row(name: str, outcomes: list[workload.Outcome]) -> str:
    result = workload.LevelResult(0, 1.0, outcomes)
    providers = ", ".join(f"{k} {v}" for k, v in sorted(result.providers().items())) or "-"
    errors = ", ".join(f"{k} {v}" for k, v in sorted(result.errors().items())) or "0"
    return (f"| {name} | {len(outcomes)} | {result.percentile_ms(50):.0f} | {result.percentile_ms(99):.0f} | "
            f"{errors} | {result.server_errors} | {providers} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--healthy", type=float, default=20.0)
    parser.add_argument("--down", type=float, default=45.0)
    parser.add_argument("--recovery", type=float, default=45.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--write-md", action="store_true")
    args = parser.parse_args()
    total = args.healthy + args.down + args.recovery
    port = harness.free_port()
    log = harness.OUT / "fault-upstream.log"
    data_dir = harness.scratch_data_dir("fault")
    key = harness.create_key(data_dir)
    load_before = harness.load_average()
    upstream = harness.FakeUpstream(port, args.latency_ms, log)
    env = {"LADDER_PROVIDERS__OPENAI_BASE_URL": upstream.url, "LADDER_PROVIDERS__DEFAULT_MODEL": "ladder-chat",
           "LADDER_CACHE__ENABLED": "false"}
    marks: dict[str, float] = {}
    with harness.running(harness.Gateway(data_dir, env=env)) as gateway:

        async def controller() -> None:
            nonlocal upstream
            start = time.perf_counter()
            await asyncio.sleep(args.healthy)
            marks["killed"] = time.perf_counter()
            await asyncio.to_thread(upstream.terminate)
            await asyncio.sleep(max(0.0, start + args.healthy + args.down - time.perf_counter()))
            marks["restarted"] = time.perf_counter()
            upstream = await asyncio.to_thread(harness.FakeUpstream, port, args.latency_ms, log)

        async def run() -> tuple[workload.LevelResult, list[tuple[float, int | None]]]:
            marks["start"] = time.perf_counter()
            result, states, _ = await asyncio.gather(
                workload.run_level(gateway.url, key, concurrency=args.concurrency, duration_s=total, warmup_s=0,
                                   mix={"answer": 0.6, "chat_stream": 0.4}, seed=args.seed, model="ladder-chat"),
                breaker_states(gateway.url, marks["start"] + total),
                controller(),
            )
            return result, states

        try:
            result, states = asyncio.run(run())
        finally:
            upstream.terminate()
    start, killed, restarted = marks["start"], marks["killed"], marks["restarted"]
    phases = {
        "upstream up": [o for o in result.outcomes if o.at < killed],
        "upstream down": [o for o in result.outcomes if killed <= o.at < restarted],
        "after restart": [o for o in result.outcomes if o.at >= restarted],
    }
    opened = next((t for t, s in states if t >= killed and s == 2), None)
    closed = next((t for t, s in states if opened is not None and t >= restarted and s == 0), None)
    timeline = []
    last = object()
    for t, state in states:
        if state != last:
            timeline.append(f"{t - start:.0f}s {_NAMES.get(state, 'n/a') if state is not None else 'n/a'}")
            last = state
    lines = [
        "## Fault run: upstream killed under load",
        "",
        (f"Command: `python bench/load/fault.py --concurrency {args.concurrency} --healthy {args.healthy:g} "
         f"--down {args.down:g} --recovery {args.recovery:g} --latency-ms {args.latency_ms:g} --seed {args.seed}"
         f"{' --write-md' if args.write_md else ''}`"),
        "",
        (f"Machine: {harness.machine()}; load average (1/5/15 min) before {load_before}, after "
         f"{harness.load_average()}. Default model ladder-chat (openai provider → fake upstream, "
         f"{args.latency_ms:g} ms; fallback extractive), response cache off, 60% answers / 40% streaming chat."),
        f"Upstream killed at {killed - start:.0f} s, restarted at {restarted - start:.0f} s.",
        "",
        "| phase | requests | p50 ms | p99 ms | errors | 5xx | served by |",
        "|---|---:|---:|---:|---|---:|---|",
        *(phase_row(name, outcomes) for name, outcomes in phases.items()),
        "",
        f"- Circuit breaker (upstream), from /metrics every 1 s: {', '.join(timeline)}.",
        (f"- Opened {'%.1f s after the kill' % (opened - killed) if opened else 'NEVER'}; closed "
         f"{'%.1f s after the restart' % (closed - restarted) if closed else 'NOT within the run'} "
         "(cool-down 30 s, then one probe)."),
        f"- 5xx in total: {result.server_errors} (target 0).",
    ]
    print("\n".join(lines))
    if args.write_md:
        harness.write_section("load.md", "fault", "\n".join(lines))


if __name__ == "__main__":
    main()
