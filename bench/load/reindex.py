"""Reindex under load: ``ladder ingest`` builds a new index version beside the served one
while the gateway serves mixed traffic; ``POST /v1/admin/reload`` swaps it in.

    python bench/load/reindex.py --concurrency 8 --write-md

Timeline: ``--before`` s of load, then ingest (a separate process, competing for the same
2 cores, as it would on a single host), then the reload, then ``--after`` s of load.
Target: zero failed requests. Reports latency per phase and the index versions seen in
/v1/search responses.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import aiohttp
import harness
import workload
from fault import phase_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--before", type=float, default=15.0)
    parser.add_argument("--after", type=float, default=20.0)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[harness.ROOT / "corpus"],
                        help="what to ingest (default: the whole corpus)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--write-md", action="store_true")
    args = parser.parse_args()
    data_dir = harness.scratch_data_dir("reindex")
    key = harness.create_key(data_dir)
    load_before = harness.load_average()
    marks: dict[str, float] = {}
    reload_reply: dict[str, object] = {}
    with harness.running(harness.Gateway(data_dir)) as gateway:
        stop_at: list[float] = [float("inf")]

        async def controller() -> None:
            marks["start"] = time.perf_counter()
            await asyncio.sleep(args.before)
            marks["ingest"] = time.perf_counter()
            env = harness._clean_env({"LADDER_DATA_DIR": str(data_dir)})
            build = await asyncio.to_thread(
                subprocess.run, [harness.PYTHON, "-m", "gateway.cli.main", "ingest", *map(str, args.corpus)],
                cwd=harness.ROOT, env=env, capture_output=True, text=True,
            )
            if build.returncode != 0:
                raise RuntimeError(f"ladder ingest failed:\n{build.stderr}")
            marks["reload"] = time.perf_counter()
            async with aiohttp.ClientSession() as session, session.post(
                f"{gateway.url}/v1/admin/reload", headers={"authorization": f"Bearer {key}"}
            ) as response:
                reload_reply.update(await response.json(), status=response.status)
            marks["reloaded"] = time.perf_counter()
            stop_at[0] = marks["reloaded"] + args.after

        async def load() -> workload.LevelResult:
            # Open-ended load: the ingest time is not known in advance; stop after --after s.
            result = workload.LevelResult(args.concurrency, 0.0)
            for index in itertools.count():
                chunk = await workload.run_level(gateway.url, key, concurrency=args.concurrency, duration_s=5.0,
                                                 warmup_s=0, seed=args.seed * 1000 + index)
                result.outcomes += chunk.outcomes
                if time.perf_counter() >= stop_at[0]:
                    result.duration_s = time.perf_counter() - marks["start"]
                    break
            return result

        async def run() -> workload.LevelResult:
            result, _ = await asyncio.gather(load(), controller())
            return result

        result = asyncio.run(run())
    phases = {
        "before ingest": [o for o in result.outcomes if o.at < marks["ingest"]],
        "during ingest": [o for o in result.outcomes if marks["ingest"] <= o.at < marks["reload"]],
        "reload call": [o for o in result.outcomes if marks["reload"] <= o.at < marks["reloaded"]],
        "after reload": [o for o in result.outcomes if o.at >= marks["reloaded"]],
    }
    versions = Counter(o.version for o in result.outcomes if o.version)
    after_versions = Counter(o.version for o in phases["after reload"] if o.version)
    lines = [
        "## Reindex under load",
        "",
        (f"Command: `python bench/load/reindex.py --concurrency {args.concurrency} --before {args.before:g} "
         f"--after {args.after:g} --seed {args.seed}{' --write-md' if args.write_md else ''}` "
         f"(ingesting {', '.join(os.path.relpath(p, harness.ROOT) for p in args.corpus)})"),
        "",
        (f"Machine: {harness.machine()}; load average (1/5/15 min) before {load_before}, after "
         f"{harness.load_average()}. Mixed traffic, 1 worker, extractive provider; `ladder ingest` ran as a "
         f"separate process for {marks['reload'] - marks['ingest']:.0f} s; the reload call took "
         f"{1000 * (marks['reloaded'] - marks['reload']):.0f} ms (HTTP {reload_reply.get('status')}, "
         f"{reload_reply.get('previous_version')} → {reload_reply.get('version')})."),
        "",
        "| phase | requests | p50 ms | p99 ms | errors | 5xx | served by |",
        "|---|---:|---:|---:|---|---:|---|",
        *(phase_row(name, outcomes) for name, outcomes in phases.items()),
        "",
        f"- Failed requests: {result.error_count} of {result.count} (target 0).",
        f"- Index versions in /v1/search responses: {dict(versions)}; after the reload: {dict(after_versions)}.",
    ]
    print("\n".join(lines))
    if args.write_md:
        harness.write_section("load.md", "reindex", "\n".join(lines))


if __name__ == "__main__":
    main()
