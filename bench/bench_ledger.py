"""Ledger write throughput and how long ``record()`` blocks its caller.

Scenarios (each on a fresh database in a temp dir):

* burst, 1 thread / 4 threads: record as fast as possible, then ``flush()``;
  throughput = rows / (first record -> last row committed).
* paced: a steady request rate (default 1000 rows/s), as a busy gateway would
  produce; the number that matters is the p99 time ``record()`` held the caller
  while the writer thread was committing in the background.
* baseline: the naive alternative, one INSERT + COMMIT per request on the
  caller's thread (same WAL/synchronous settings), for comparison.

Records are built before timing (and frozen out of the cyclic GC), so only
``record()`` itself is measured.

    python bench/bench_ledger.py [--rows 100000] [--rate 1000] [--seconds 5] [--write-md]
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.usage.ledger import Ledger
from gateway.usage.records import COLUMNS, UsageRecord
from gateway.usage.schema import open_database


def make_records(n: int) -> list[UsageRecord]:
    return [
        UsageRecord(
            key_id=f"key{i % 16}",
            route="/v1/chat/completions",
            latency_ms=float(i % 700),
            audience="employee",
            model="gpt-4o-mini",
            provider="openai",
            prompt_name="rag_answer",
            prompt_version="3",
            tokens_in=900 + i % 300,
            tokens_out=120 + i % 80,
            usage_source="tiktoken",
            cost_usd=0.0002,
            trace_id=f"{i:032x}",
            status_code=200,
        )
        for i in range(n)
    ]


def pct(values_ns: list[int], q: float) -> float:
    ordered = sorted(values_ns)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] / 1000


def burst(records: list[UsageRecord], threads: int, tmp: Path) -> dict[str, float]:
    ledger = Ledger(tmp / f"burst{threads}.db")
    ledger.start()
    chunks = [records[i::threads] for i in range(threads)]
    timings: list[list[int]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        out = timings[index]
        barrier.wait()
        for record in chunks[index]:
            t0 = time.perf_counter_ns()
            ledger.record(record)
            out.append(time.perf_counter_ns() - t0)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    assert ledger.flush(timeout=120)
    elapsed = time.perf_counter() - start
    stats = ledger.stats()
    ledger.close()
    assert stats.written == len(records) and stats.dropped == 0
    flat = [t for chunk in timings for t in chunk]
    return {
        "rows_per_s": len(records) / elapsed,
        "p50_us": pct(flat, 50),
        "p99_us": pct(flat, 99),
        "max_us": max(flat) / 1000,
        "slow": sum(t > 1_000_000 for t in flat),
        "batches": stats.batches,
    }


def paced(records: list[UsageRecord], rate: float, tmp: Path) -> dict[str, float]:
    ledger = Ledger(tmp / "paced.db")
    ledger.start()
    timings: list[int] = []
    interval = 1.0 / rate
    start = time.perf_counter()
    for i, record in enumerate(records):
        target = start + i * interval
        while (now := time.perf_counter()) < target:
            time.sleep(max(0.0, min(target - now, 0.001)))
        t0 = time.perf_counter_ns()
        ledger.record(record)
        timings.append(time.perf_counter_ns() - t0)
    ledger.flush(timeout=60)
    stats = ledger.stats()
    ledger.close()
    return {
        "rows": len(records),
        "p50_us": pct(timings, 50),
        "p99_us": pct(timings, 99),
        "max_us": max(timings) / 1000,
        "slow": sum(t > 1_000_000 for t in timings),
        "batches": stats.batches,
        "rows_per_batch": stats.written / max(1, stats.batches),
    }


def baseline(records: list[UsageRecord], tmp: Path) -> dict[str, float]:
    conn = open_database(tmp / "baseline.db")
    insert = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    timings = []
    start = time.perf_counter()
    for record in records:
        t0 = time.perf_counter_ns()
        conn.execute("BEGIN")
        conn.execute(insert, record.as_row())
        conn.execute("COMMIT")
        timings.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - start
    conn.close()
    return {
        "rows_per_s": len(records) / elapsed,
        "p50_us": pct(timings, 50),
        "p99_us": pct(timings, 99),
        "max_us": max(timings) / 1000,
        "slow": sum(t > 1_000_000 for t in timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per burst scenario")
    parser.add_argument(
        "--rates", default="1000,5000", help="paced scenarios, rows/s (comma-separated)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="paced scenario duration")
    parser.add_argument("--write-md", action="store_true", help="write bench/results/ledger.md")
    args = parser.parse_args()

    records = make_records(args.rows)
    # The prebuilt records are a benchmark artifact; keep the cyclic GC from rescanning
    # them during the timed loop (a server's heap is a different question).
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        results = {
            "burst, 1 thread": burst(records, 1, tmp),
            "burst, 4 threads": burst(records, 4, tmp),
        }
        rates = [float(r) for r in args.rates.split(",")]
        paces = {rate: paced(records[: int(rate * args.seconds)], rate, tmp) for rate in rates}
        base = baseline(records[:5000], tmp)

    lines = [
        "| scenario | rows/s committed | record() p50 | record() p99 | record() max "
        "| calls > 1 ms | transactions |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name}, {args.rows:,} rows | {r['rows_per_s']:,.0f} | {r['p50_us']:.1f} µs "
            f"| {r['p99_us']:.1f} µs | {r['max_us']:,.0f} µs | {r['slow']:,} | {r['batches']:.0f} |"
        )
    for rate, pace in paces.items():
        lines.append(
            f"| paced {rate:,.0f} rows/s for {args.seconds:g} s ({pace['rows']:,.0f} rows) | - "
            f"| {pace['p50_us']:.1f} µs | {pace['p99_us']:.1f} µs | {pace['max_us']:,.0f} µs "
            f"| {pace['slow']:,} | {pace['batches']:.0f} (~{pace['rows_per_batch']:.0f} rows) |"
        )
    lines.append(
        f"| baseline: INSERT+COMMIT per row on the caller, 5,000 rows | {base['rows_per_s']:,.0f} "
        f"| {base['p50_us']:.1f} µs | {base['p99_us']:.1f} µs | {base['max_us']:,.0f} µs "
        f"| {base['slow']:,} | 5000 |"
    )
    table = "\n".join(lines)
    print(table)
    if args.write_md:
        command = "python bench/bench_ledger.py " + " ".join(sys.argv[1:])
        machine = (
            f"2-core {platform.machine()} CPU, no GPU, Python {platform.python_version()}, "
            f"SQLite {__import__('sqlite3').sqlite_version}"
        )
        ratio = min(r["rows_per_s"] for r in results.values()) / base["rows_per_s"]
        body = f"""# Usage ledger: write throughput and caller blocking

Command: `{command.strip()}` (from the repository root, venv active)

Machine: {machine}

Ledger settings: defaults (WAL, synchronous=NORMAL, flush every 0.25 s or 512 rows,
queue bound 20,000). "record() p99" is the time one `record()` call held the request
thread; the commit itself happens on the ledger's writer thread.

{table}

Reading:

* Committed throughput of the batched writer is {ratio:.0f}x the per-row-commit baseline
  in this run, and far above what the gateway serves (its requests run retrieval and guards).
* At paced rates a request pays a lock and a list append (p99 tens of µs) instead of a
  commit (baseline p99 in milliseconds, on the request path).
* The burst rows offer rows faster than SQLite can commit them (every call back to
  back, ~200k rows/s offered): the 20,000-row queue fills and `record()` applies
  backpressure - the "calls > 1 ms" and the max. That is the bound doing its job; no
  row was dropped (a call waits up to 1 s for room before dropping and counting).
* The remaining slow calls at paced rates are the GIL: while the writer binds a batch
  in `executemany`, a caller can wait one CPython switch interval (5 ms) for the
  interpreter.
"""
        out = ROOT / "bench" / "results" / "ledger.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_suffix(".md.tmp")
        tmp_out.write_text(body, encoding="utf-8")
        tmp_out.replace(out)
        print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
