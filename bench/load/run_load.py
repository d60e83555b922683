"""Mixed-traffic load test of a real ``ladder serve`` at several concurrency levels.

    python bench/load/run_load.py                       # 1, 8, 32, 64 clients; 1 and 2 workers
    python bench/load/run_load.py --duration 10 --levels 8 32 --workers 1

The gateway runs as its own process (extractive provider, data dir built once by
``ladder ingest`` under bench/out/load/data); the load generator (bench/load/workload.py)
is this process. Both share the machine: on 2 cores the client's own CPU is part of
what limits throughput, as it would be for any load test run on the server's host.
Writes the "load-levels" section of bench/results/load.md with --write-md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import harness
import workload


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="uvicorn worker counts to compare")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each level")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat-share", type=float, default=0.5,
                        help="share of questions drawn from the 50 frequent ones (cache repeats)")
    parser.add_argument("--write-md", action="store_true", help="update bench/results/load.md")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    lines = [
        "## Mixed traffic at 1-64 concurrent clients",
        "",
        (f"Command: `python bench/load/run_load.py --levels {' '.join(map(str, args.levels))} "
         f"--workers {' '.join(map(str, args.workers))} --duration {args.duration:g} --warmup {args.warmup:g} "
         f"--seed {args.seed} --write-md`"),
        "",
        f"Machine: {harness.machine()}. Load generator (aiohttp, closed loop) and gateway on the same host.",
        ("Traffic: 45% POST /v1/answers, 20% streaming POST /v1/chat/completions, 20% POST /v1/search, "
         f"15% GET /v1/roles*; {args.repeat_share:.0%} of questions from 50 frequent ones (Zipf), the rest "
         "long-tail. Default model ladder-extractive (no LLM)."),
        "",
    ]
    for workers in args.workers:
        data_dir = harness.scratch_data_dir(f"load-w{workers}")
        key = harness.create_key(data_dir)
        with harness.running(harness.Gateway(data_dir, workers=workers)) as gateway:
            startup = harness.sample(gateway.pid)
            lines += [
                f"### {workers} uvicorn worker(s)",
                "",
                (f"RSS after start-up: {startup.rss_mb:.0f} MB, PSS {startup.pss_mb:.0f} MB (summed over all "
                 "processes; forked workers share the loaded model and index, which RSS counts once per "
                 "process and PSS splits between them)."),
                "",
                workload.LEVEL_HEADER + " load avg (1/5/15 min) before | server CPU s/req | RSS MB after | "
                "PSS MB after |",
                workload.LEVEL_RULE + "---|---:|---:|---:|",
            ]
            per_kind: list[str] = []
            for level in args.levels:
                load = harness.load_average()
                result = asyncio.run(workload.run_level(
                    gateway.url, key, concurrency=level, duration_s=args.duration, warmup_s=args.warmup,
                    seed=args.seed, repeat_share=args.repeat_share, probe=lambda: harness.sample(gateway.pid),
                ))
                before, after = result.probe_start, result.probe_end
                cpu_per_req = (after.cpu_s - before.cpu_s) / max(1, result.count)
                row = workload.level_row(
                    result, f" {load} | {cpu_per_req * 1000:.1f} ms | {after.rss_mb:.0f} | {after.pss_mb:.0f} |")
                print(row, flush=True)
                lines.append(row)
                per_kind += workload.kind_rows(result)
                time.sleep(1)
            lines += [
                "",
                "Per request kind:",
                "",
                "| clients | kind | requests | p50 ms | p95 ms | p99 ms |",
                "|---:|---|---:|---:|---:|---:|",
                *per_kind,
                "",
            ]
    print("\n".join(lines))
    if args.write_md:
        harness.write_section("load.md", "load-levels", "\n".join(lines))


if __name__ == "__main__":
    main()
