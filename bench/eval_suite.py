"""Benchmark: how long the golden suite takes, harness alone and through the real pipeline.

    python bench/eval_suite.py              # harness overhead (oracle double) + real pipeline
    python bench/eval_suite.py --no-real    # harness overhead only

The oracle double (evals.testing.OracleRunner) answers instantly, so its run
time is the harness's own cost: scheduling, metric scoring, bootstrap CIs,
writing results.jsonl/summary.json/report.html. The real run opens the
in-process pipeline (gateway.pipeline.open_pipeline) with the extractive model
on the configured index (LADDER_DATA_DIR) and runs every golden case once.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, like the other benchmarks

from evals.runner import EXTRACTIVE_MODEL, PRODUCTION_LABEL, RunOptions, Target, open_runner
from evals.schema import default_golden_files, load_golden
from evals.suite import evaluate, save
from evals.testing import OracleRunner


def harness_only(concurrency: int) -> None:
    paths = default_golden_files()
    cases = load_golden(paths)
    started = time.perf_counter()
    run = asyncio.run(evaluate(cases, OracleRunner(cases), RunOptions(concurrency=concurrency),
                               golden_paths=paths))
    scored = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        save(run, Path(tmp) / "run")
    written = time.perf_counter()
    print(f"| harness only (oracle double) | {len(cases)} | {scored - started:.2f} s "
          f"| {written - scored:.2f} s | {written - started:.2f} s |")


def real_pipeline(concurrency: int) -> None:
    from gateway.settings import load_settings

    settings = load_settings()
    paths = default_golden_files()
    cases = load_golden(paths)
    options = RunOptions(model=EXTRACTIVE_MODEL, prompt_version=PRODUCTION_LABEL, concurrency=concurrency)

    async def go() -> tuple[float, float, object]:
        opened = time.perf_counter()
        async with open_runner(settings, Target(model=EXTRACTIVE_MODEL)) as runner:
            ready = time.perf_counter()
            run = await evaluate(cases, runner, options, golden_paths=paths, settings=settings)
        return ready - opened, time.perf_counter() - ready, run

    start_s, run_s, run = asyncio.run(go())
    summary = run.summary  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        save(run, Path(tmp) / "run")  # type: ignore[arg-type]
        write_s = time.perf_counter() - began
    overall = summary["metrics"]["overall"]
    print(f"| real pipeline, extractive (start-up {start_s:.1f} s not included) | {len(cases)} "
          f"| {run_s:.2f} s | {write_s:.2f} s | {run_s + write_s:.2f} s |")
    print(f"\nper-case latency p50 {overall['latency_p50_ms']['value']:.1f} ms, "
          f"p95 {overall['latency_p95_ms']['value']:.1f} ms; "
          f"{summary['counts']['passed']}/{summary['counts']['cases']} cases passed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}\n")
    print("| run | cases | run + score | write files | total |")
    print("|---|---|---|---|---|")
    harness_only(args.concurrency)
    if not args.no_real:
        real_pipeline(args.concurrency)


if __name__ == "__main__":
    main()
