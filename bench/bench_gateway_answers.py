"""Single-client latency of POST /v1/answers through a real ``ladder serve`` (extractive).

A sanity figure, not a load test (bench/load/ has those): one client sends the
questions one after another, so each latency is the whole pipeline - HTTP, auth,
input guards, hybrid retrieval, prompt rendering, the extractive provider, output
guards, usage ledger - without queueing. The response cache is off, so every
request does the full work; a second pass with the cache on shows the cached path.

    python bench/bench_gateway_answers.py --requests 200

Writes its section of bench/results/gateway.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load.harness import Gateway, create_key, load_average, machine, running, scratch_data_dir
from bench.results_file import update_section

RESULTS = ROOT / "bench" / "results" / "gateway.md"
HEADER = "# Gateway benchmarks\n\nEach section is rewritten by the script named in it.\n"
QUESTIONS = [
    "What availability should an AI endpoint reach?",
    "What are the 30-day goals for a Staff Applied AI Engineer?",
    "Which skills does an MLOps Engineer need?",
    "What does an AI Platform Lead own?",
    "How is a Senior ML Engineer evaluated in interviews?",
    "What is the target for inference latency?",
    "What comes after the Senior Applied AI Engineer role?",
    "What tools does a Staff Data Engineer use?",
    "What are the KPIs of an Engineering Manager, Applied AI?",
    "What is the best topping for a pizza?",  # refused by the input guards: the cheap path
]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation): a value that was actually observed."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def run(url: str, key: str, requests: int, warmup: int) -> tuple[list[float], list[float], int]:
    client_ms: list[float] = []
    server_ms: list[float] = []
    refused = 0
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
        for i in range(warmup + requests):
            question = QUESTIONS[i % len(QUESTIONS)]
            started = time.perf_counter()
            response = client.post("/v1/answers", json={"question": question})
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i < warmup:
                continue
            body = response.json()
            client_ms.append(elapsed)
            server_ms.append(float(body["latency_ms"]))
            refused += bool(body["refused"])
    return client_ms, server_ms, refused


def describe(values: list[float]) -> str:
    return (f"{percentile(values, 50):.1f} | {percentile(values, 95):.1f} | {statistics.fmean(values):.1f} | "
            f"{max(values):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/results alone")
    args = parser.parse_args()

    rows = []
    for cache in (False, True):
        data_dir = scratch_data_dir(f"answers-latency-{'cache' if cache else 'nocache'}")
        env = {"LADDER_CACHE__ENABLED": "true" if cache else "false"}
        with running(Gateway(data_dir, env=env)) as gateway:
            key = create_key(data_dir)
            client_ms, server_ms, refused = run(gateway.url, key, args.requests, args.warmup)
        label = "cache on (repeats hit)" if cache else "cache off"
        rows.append(f"| {label} | {len(client_ms)} | {describe(client_ms)} | {describe(server_ms)} | {refused} |")
        print(rows[-1], flush=True)

    body = "\n".join([
        "## POST /v1/answers, one client, extractive provider",
        "",
        f"Command: `python bench/bench_gateway_answers.py --requests {args.requests} --warmup {args.warmup}`  ",
        (f"Machine: {machine()}; load average (1/5/15 min) at the end: {load_average()} (a shared box: "
         "other engineers' jobs ran at the same time)  "),
        ("Server: `ladder serve` (1 worker, default ONNX query embedder) on 127.0.0.1 in its own process; "
         f"{len(QUESTIONS)} questions cycled (one off-topic, refused by the input guards; `refused` also "
         f"counts abstentions); {args.warmup} warm-up requests not counted. Client = wall time seen by "
         "httpx; server = the response's `latency_ms` (pipeline only, no HTTP)."),
        "",
        ("| run | n | client p50 ms | client p95 | client mean | client max | server p50 ms | server p95 "
         "| server mean | server max | refused |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "A sanity figure for one client, not a capacity number: bench/load/ measures throughput.",
    ])
    if not args.no_write:
        if not RESULTS.is_file():
            RESULTS.write_text(HEADER, encoding="utf-8")
        update_section(RESULTS, "bench_gateway_answers", body)
    print(body)


if __name__ == "__main__":
    main()
