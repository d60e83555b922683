"""Gateway speed against the targets of the "LLM gateway" issue.

    python bench/load/gateway_speed.py --duration 20 --write-md

Scenarios (each against a real ``ladder serve`` process, 1 worker):

* /v1/answers, extractive provider: 1 client (latency) and 16 clients (throughput);
* /v1/chat/completions through the ``openai`` provider (model alias ladder-chat) to the
  fake upstream answering after a fixed 50 ms, 16 clients, non-streaming and streaming,
  next to the same load sent straight to the upstream ("direct"): the difference of
  the p50s is what ladder adds; and the non-streaming request from 1 client, next to
  1 client sent straight to the upstream: what the pipeline adds without queueing;
* RSS of the server after the runs (warm), and PSS (shared pages split between the
  processes that share them) where there are several workers.

Each scenario runs twice: with the response cache off (every request does the whole
pipeline: guards, retrieval, provider, output guards) and with it on (default
settings; 50% of questions repeat, see workload.py). With the cache off, repeated
questions still reuse the embedder's query-vector LRU, as they would in production.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import harness
import workload
from bench_upstream_client import drive, pct

SECTION = "gateway-targets"


def row(name: str, cache: str, result: workload.LevelResult, load: str, target: str, extra: str = "") -> str:
    providers = ", ".join(f"{k} {v}" for k, v in sorted(result.providers().items())) or "-"
    return (
        f"| {name} | {cache} | {result.concurrency} | {result.throughput:.1f} | {result.percentile_ms(50):.1f} | "
        f"{result.percentile_ms(95):.1f} | {result.percentile_ms(99):.1f} | {result.error_count} | "
        f"{providers} | {target}{extra} | {load} |"
    )


def load_now() -> str:
    """Load average and the CPU probe, taken just before a scenario."""
    return f"{harness.load_average()} | {harness.cpu_probe_ms():.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cache", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes (each loads its own models); 2 uses both cores")
    parser.add_argument("--write-md", action="store_true")
    args = parser.parse_args()
    c = args.concurrency
    rows: list[str] = []
    notes: list[str] = []
    upstream = harness.FakeUpstream(harness.free_port(), args.latency_ms, harness.OUT / "speed-fake.log")
    with harness.running(upstream):
        direct: dict[tuple[bool, int], float] = {}
        for stream, clients in ((False, c), (True, c), (False, 1)):
            load = load_now()
            lat, err, secs = asyncio.run(drive(upstream.url, concurrency=clients, duration=args.duration,
                                               stream=stream))
            direct[stream, clients] = pct(lat, 50)
            rows.append(f"| upstream direct ({'stream' if stream else 'json'}) | - | {clients} | "
                        f"{len(lat) / secs:.1f} | {pct(lat, 50):.1f} | {pct(lat, 95):.1f} | {pct(lat, 99):.1f} | "
                        f"{err} | - | - | {load} |")
            print(rows[-1], flush=True)
        for cache in args.cache:
            data_dir = harness.scratch_data_dir(f"speed-cache-{cache}")
            key = harness.create_key(data_dir)
            env = {"LADDER_PROVIDERS__OPENAI_BASE_URL": upstream.url,
                   "LADDER_CACHE__ENABLED": "true" if cache == "on" else "false"}
            with harness.running(harness.Gateway(data_dir, env=env, workers=args.workers)) as gateway:

                def run(mix: dict[str, float], clients: int, model: str | None = None,
                        url: str = gateway.url, key: str = key) -> workload.LevelResult:
                    return asyncio.run(workload.run_level(
                        url, key, concurrency=clients, duration_s=args.duration, warmup_s=args.warmup,
                        mix=mix, seed=args.seed, model=model))

                load = load_now()
                single = run({"answer": 1.0}, 1)
                rows.append(row("answers, extractive", cache, single, load, "p50 ≤ 30, p95 ≤ 80 ms"))
                print(rows[-1], flush=True)
                load = load_now()
                many = run({"answer": 1.0}, c)
                rows.append(row("answers, extractive", cache, many, load, "≥ 80 req/s, 0 errors"))
                print(rows[-1], flush=True)
                for stream, target in ((False, "≥ 120 req/s"), (True, "≥ 80 req/s")):
                    load = load_now()
                    result = run({"chat_stream" if stream else "chat": 1.0}, c, model="ladder-chat")
                    added = result.percentile_ms(50) - direct[stream, c]
                    rows.append(row(f"chat via openai→fake ({'stream' if stream else 'json'})", cache, result, load,
                                    target, f"; added p50 {added:.1f} ms (≤ 15)"))
                    print(rows[-1], flush=True)
                # The same request alone: what the pipeline itself adds, without queueing.
                load = load_now()
                alone = run({"chat": 1.0}, 1, model="ladder-chat")
                added = alone.percentile_ms(50) - direct[False, 1]
                rows.append(row("chat via openai→fake (json)", cache, alone, load,
                                f"added p50 {added:.1f} ms alone (the ≤ 15 ms target is at {c} clients)"))
                print(rows[-1], flush=True)
                warm = harness.sample(gateway.pid)
                hit = many.cache_hit_rate()
                notes.append(f"cache {cache}: server RSS after the runs {warm.rss_mb:.0f} MB (target ≤ 700; "
                             f"PSS {warm.pss_mb:.0f} MB; both summed over the server's processes), "
                             f"{warm.fds} open fds; answer cache hit rate at {c} clients: "
                             f"{'-' if hit is None else f'{100 * hit:.0f}%'}")
    workers_text = "One uvicorn worker" if args.workers == 1 else f"{args.workers} uvicorn workers"
    lines = [
        f"## Gateway speed targets (issue: LLM gateway){'' if args.workers == 1 else f', {workers_text}'}",
        "",
        (f"Command: `python bench/load/gateway_speed.py --duration {args.duration:g} --warmup {args.warmup:g} "
         f"--concurrency {c} --latency-ms {args.latency_ms:g} --seed {args.seed} --cache {' '.join(args.cache)}"
         f"{f' --workers {args.workers}' if args.workers != 1 else ''}{' --write-md' if args.write_md else ''}`"),
        "",
        (f"Machine: {harness.machine()}. {workers_text}; the load generator runs on the same host. "
         f"Fake upstream: gateway.testing.fake_upstream, fixed {args.latency_ms:g} ms per reply. "
         "CPU probe: the milliseconds a fixed pure-Python loop took just before the scenario "
         "(best of 3; lower is a faster box - this shared VM's speed drifts by a third or more)."),
        "",
        ("| scenario | response cache | clients | req/s | p50 ms | p95 ms | p99 ms | errors | served by | target | "
         "load avg (1/5/15) before | CPU probe ms |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|",
        *rows,
        "",
        *(f"- {note}" for note in notes),
    ]
    print("\n".join(lines))
    if args.write_md:
        section = SECTION if args.workers == 1 else f"{SECTION}-{args.workers}w"
        harness.write_section("gateway_speed.md", section, "\n".join(lines))


if __name__ == "__main__":
    main()
