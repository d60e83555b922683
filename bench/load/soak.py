"""Soak: moderate mixed load for a long time; memory and file descriptors must not creep.

    python bench/load/soak.py --duration 600 --concurrency 8 --write-md

Samples the server's VmRSS and open fd count (/proc/<pid>/status, /proc/<pid>/fd) every
``--sample-every`` seconds. Growth is measured from the end of ``--warmup`` to the end,
and over the second half alone: bounded caches (response cache, query-vector LRU, 2,048
entries each) still fill during the first minutes, so a leak shows as growth that does
not flatten. Targets: RSS growth ≤ 5% after warm-up, no fd growth, no 5xx.
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


async def soak(gateway: harness.Gateway, key: str, args: argparse.Namespace
               ) -> tuple[workload.LevelResult, list[tuple[float, harness.ProcSample]]]:
    samples: list[tuple[float, harness.ProcSample]] = []
    start = time.perf_counter()

    async def sampler() -> None:
        while time.perf_counter() - start < args.duration:
            samples.append((time.perf_counter() - start, harness.sample(gateway.pid)))
            await asyncio.sleep(args.sample_every)
        samples.append((time.perf_counter() - start, harness.sample(gateway.pid)))

    result, _ = await asyncio.gather(
        workload.run_level(gateway.url, key, concurrency=args.concurrency, duration_s=args.duration,
                           warmup_s=0, seed=args.seed, repeat_share=args.repeat_share),
        sampler(),
    )
    return result, samples


def growth(
    samples: list[tuple[float, harness.ProcSample]], since: float, until: float
) -> tuple[float, float, int, int]:
    # Only samples taken while the load ran: the last one, after the clients closed their
    # connections, shows fewer fds, which is not growth in either direction.
    after = [s for t, s in samples if since <= t <= until] or [s for t, s in samples if t >= since]
    first, last = after[0], after[-1]
    rss_pct = 100 * (last.rss_mb - first.rss_mb) / first.rss_mb
    return first.rss_mb, rss_pct, min(s.fds for s in after), max(s.fds for s in after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds excluded from the growth figure")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat-share", type=float, default=0.5)
    parser.add_argument("--write-md", action="store_true")
    args = parser.parse_args()
    data_dir = harness.scratch_data_dir("soak")
    key = harness.create_key(data_dir)
    load_before = harness.load_average()
    with harness.running(harness.Gateway(data_dir)) as gateway:
        result, samples = asyncio.run(soak(gateway, key, args))
    load_after = harness.load_average()
    base_rss, rss_pct, fd_min, fd_max = growth(samples, args.warmup, args.duration)
    half_rss, half_pct, _, _ = growth(samples, args.duration / 2, args.duration)
    verdict_rss = "meets" if rss_pct <= 5 else "MISSES"
    verdict_fd = "meets" if fd_max - fd_min <= 2 else "MISSES"
    series = " ".join(f"{s.rss_mb:.0f}" for _, s in samples)
    fds = " ".join(str(s.fds) for _, s in samples)
    lines = [
        "## Soak",
        "",
        (f"Command: `python bench/load/soak.py --duration {args.duration:g} --concurrency {args.concurrency} "
         f"--sample-every {args.sample_every:g} --warmup {args.warmup:g} --seed {args.seed}"
         f"{' --write-md' if args.write_md else ''}`"),
        "",
        (f"Machine: {harness.machine()}; load average (1/5/15 min) before {load_before}, after {load_after}. "
         "Mixed traffic as in the load levels; 1 worker, extractive provider."),
        "",
        (f"- {result.count} requests in {args.duration:g} s ({result.throughput:.1f} req/s), "
         f"p50 {result.percentile_ms(50):.1f} ms, p99 {result.percentile_ms(99):.1f} ms, "
         f"errors {result.error_count}, 5xx {result.server_errors}."),
        (f"- RSS after warm-up ({args.warmup:g} s) {base_rss:.0f} MB -> end {samples[-1][1].rss_mb:.0f} MB: "
         f"{rss_pct:+.1f}% ({verdict_rss} ≤ 5%); second half alone {half_rss:.0f} MB -> "
         f"{samples[-1][1].rss_mb:.0f} MB ({half_pct:+.1f}%)."),
        f"- Open fds after warm-up: {fd_min}..{fd_max} ({verdict_fd} 'no growth').",
        f"- RSS MB every {args.sample_every:g} s: {series}",
        f"- fds every {args.sample_every:g} s: {fds}",
    ]
    print("\n".join(lines))
    if args.write_md:
        harness.write_section("load.md", "soak", "\n".join(lines))


if __name__ == "__main__":
    main()
