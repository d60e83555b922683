"""Query embeddings: PyTorch vs ONNX Runtime fp32 vs ONNX Runtime int8.

Measures, each backend in its own fresh process (so RSS is that backend's alone):
single short-query latency (SciFact test queries, query cache off), throughput at
batch 64 (SciFact passages and short queries), RSS, and the export time of the
ONNX files from a cold cache. Quality: SciFact test nDCG@10 of dense retrieval with
documents embedded once by PyTorch and queries by each backend, plus the cosine
between each backend's vectors and PyTorch's.

    python bench/bench_embedding.py                  # print the report
    python bench/bench_embedding.py --write-results  # also write bench/results/embedding.md
    python bench/bench_embedding.py --rounds 3       # more rounds on a busy machine
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ir_metrics import mean, ndcg_at_k

DATASET = Path("/work/shared/datasets/beir-scifact")
OUT = ROOT / "bench" / "out" / "embedding"
RESULTS = ROOT / "bench" / "results" / "embedding.md"
WARMUP_RUNS = 20
PASSAGES_FOR_THROUGHPUT = 256
BATCH = 64


def load_scifact() -> tuple[list[str], list[str], list[str], dict[str, dict[str, int]]]:
    """Document ids and texts (title + " " + text, as BEIR feeds sentence-transformers),
    test query ids and the test qrels."""
    doc_ids, doc_texts = [], []
    with (DATASET / "corpus.jsonl").open(encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            doc_ids.append(row["_id"])
            doc_texts.append(f"{row.get('title', '')} {row.get('text', '')}".strip())
    qrels: dict[str, dict[str, int]] = {}
    for line in (DATASET / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, grade = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(grade)
    return doc_ids, doc_texts, sorted(qrels, key=int), qrels


def load_queries() -> dict[str, str]:
    with (DATASET / "queries.jsonl").open(encoding="utf-8") as handle:
        return {row["_id"]: row["text"] for row in map(json.loads, handle)}


def rss_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def make(backend: str, cache_dir: Path, threads: int | None, cache_size: int = 0) -> Any:
    if backend == "torch":
        from retrieval.embedding.torch_embedder import TorchEmbedder

        return TorchEmbedder(batch_size=BATCH)
    from retrieval.embedding.onnx_embedder import OnnxEmbedder

    # Latency runs use cache_size=0: every call runs the model.
    return OnnxEmbedder(
        cache_dir=cache_dir,
        quantized=backend == "onnx-int8",
        batch_size=BATCH,
        cache_size=cache_size,
        intra_op_threads=threads,
    )


def single_queries(
    embedder: Any, texts: list[str]
) -> tuple[list[float], list[float], list[np.ndarray]]:
    """Wall and process-CPU seconds per call; CPU time moves less with the box's load."""
    wall, cpu, vectors = [], [], []
    for text in texts:
        cpu_tick, tick = time.process_time(), time.perf_counter()
        vectors.append(embedder.embed([text]))
        wall.append(time.perf_counter() - tick)
        cpu.append(time.process_time() - cpu_tick)
    return wall, cpu, vectors


def worker(backend: str, cache_dir: Path, threads: int | None, out: Path) -> None:
    """Runs in a fresh process; writes query and passage vectors and a JSON report."""
    _, doc_texts, test_ids, _ = load_scifact()
    queries = load_queries()
    test_queries = [queries[qid] for qid in test_ids]
    started = time.perf_counter()
    embedder = make(backend, cache_dir, threads)
    embedder.warm_up()
    warm_up_s = time.perf_counter() - started
    for text in test_queries[:WARMUP_RUNS]:
        embedder.embed([text])
    latencies, cpu, vectors = single_queries(embedder, test_queries)
    rss_after_queries = rss_kib()["VmRSS"]
    passages = doc_texts[:PASSAGES_FOR_THROUGHPUT]
    tick = time.perf_counter()
    passage_vectors = np.vstack(
        [embedder.embed(passages[i : i + BATCH]) for i in range(0, len(passages), BATCH)]
    )
    passage_rate = len(passages) / (time.perf_counter() - tick)
    short = test_queries[:BATCH] * 4
    tick = time.perf_counter()
    for i in range(0, len(short), BATCH):
        embedder.embed(short[i : i + BATCH])
    query_rate = len(short) / (time.perf_counter() - tick)
    # Single queries again: does a big batch leave the backend slower or bigger?
    after_batch, _, _ = single_queries(embedder, test_queries[:100])
    np.save(out.with_suffix(".queries.npy"), np.vstack(vectors))
    np.save(out.with_suffix(".passages.npy"), passage_vectors)
    report = {
        "backend": backend,
        "threads": threads,
        "warm_up_s": warm_up_s,
        "runs": len(latencies),
        "p50_ms": float(np.percentile(latencies, 50) * 1e3),
        "p95_ms": float(np.percentile(latencies, 95) * 1e3),
        "cpu_ms": float(np.mean(cpu) * 1e3),
        "p50_after_batch_ms": float(np.percentile(after_batch, 50) * 1e3),
        "passages_per_s": passage_rate,
        "queries_per_s": query_rate,
        "torch_imported": "torch" in sys.modules,
        "torch_threads": sys.modules["torch"].get_num_threads() if backend == "torch" else None,
        "rss_after_queries_kib": rss_after_queries,
        **rss_kib(),
    }
    if backend != "torch":  # a cache hit, for scale
        hit = make(backend, cache_dir, threads, cache_size=16)
        hit.warm_up()
        hit.embed([test_queries[0]])
        tick = time.perf_counter()
        for _ in range(1000):
            hit.embed([test_queries[0]])
        report["cache_hit_us"] = (time.perf_counter() - tick) / 1000 * 1e6
    out.with_suffix(".json").write_text(json.dumps(report))


def export_worker(cache_dir: Path, out: Path) -> None:
    """Cold export in a fresh process: torch import, model load, export, quantization."""
    from retrieval.embedding.model_path import minilm_path
    from retrieval.embedding.onnx_export import ensure_exported

    tick = time.perf_counter()
    fp32 = ensure_exported(minilm_path(), cache_dir, quantized=False)
    fp32_s = time.perf_counter() - tick
    tick = time.perf_counter()
    int8 = ensure_exported(minilm_path(), cache_dir, quantized=True)
    int8_s = time.perf_counter() - tick
    out.write_text(
        json.dumps(
            {
                "fp32_s": fp32_s,
                "int8_s": int8_s,
                "fp32_mb": fp32.path.stat().st_size / 1e6,
                "int8_mb": int8.path.stat().st_size / 1e6,
            }
        )
    )


RUNS: list[tuple[str, int | None]] = [
    ("torch", None),
    ("onnx", 1),
    ("onnx", 2),
    ("onnx-int8", 1),
    ("onnx-int8", 2),
]
LOWER_IS_BETTER = (
    "p50_ms",
    "p95_ms",
    "cpu_ms",
    "p50_after_batch_ms",
    "rss_after_queries_kib",
    "VmRSS",
    "VmHWM",
    "warm_up_s",
)
HIGHER_IS_BETTER = ("passages_per_s", "queries_per_s")


def best_of(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    if previous is None:
        return current
    merged = dict(current)
    for key in LOWER_IS_BETTER:
        merged[key] = min(previous[key], current[key])
    for key in HIGHER_IS_BETTER:
        merged[key] = max(previous[key], current[key])
    merged["torch_imported"] = previous["torch_imported"] or current["torch_imported"]
    # Vectors must not differ between rounds; a backend that is not deterministic
    # would make the quality figures meaningless.
    np.testing.assert_allclose(previous["queries"], current["queries"], atol=1e-6)
    return merged


def run_child(args: list[str]) -> None:
    subprocess.run([sys.executable, __file__, *args], check=True, cwd=ROOT)


def document_vectors(doc_texts: list[str]) -> np.ndarray:
    """PyTorch document vectors, computed once and cached under bench/out/."""
    from retrieval.embedding.model_path import MODEL_NAME, minilm_path
    from retrieval.embedding.onnx_export import source_fingerprint

    digest = hashlib.sha256()
    digest.update(MODEL_NAME.encode() + source_fingerprint(minilm_path()).encode())
    for text in doc_texts:
        digest.update(text.encode() + b"\0")
    path = OUT / f"scifact-docs-torch-{digest.hexdigest()[:16]}.npy"
    if not path.is_file():
        from retrieval.embedding.torch_embedder import TorchEmbedder

        vectors = TorchEmbedder(batch_size=BATCH).embed(doc_texts)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, path)
    return np.load(path)


def ndcg10(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    doc_ids: list[str],
    test_ids: list[str],
    qrels: dict[str, dict[str, int]],
) -> float:
    scores = query_vectors @ doc_vectors.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    return mean(
        [
            ndcg_at_k([doc_ids[j] for j in row], qrels[qid])
            for qid, row in zip(test_ids, top, strict=True)
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds per backend; timings keep the best"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--export-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.cache_dir, args.threads, args.out)
    if args.export_worker:
        return export_worker(args.cache_dir, args.out)

    OUT.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    doc_ids, doc_texts, test_ids, qrels = load_scifact()
    docs = document_vectors(doc_texts)
    # A cold export in a fresh process; its files then serve every worker, so no
    # worker exports (or imports torch) while it is being measured.
    cache_dir = OUT / "models"
    cold = Path(tempfile.mkdtemp(prefix="models-cold-", dir=OUT))
    run_child(["--export-worker", "--cache-dir", str(cold), "--out", str(OUT / "export.json")])
    export = json.loads((OUT / "export.json").read_text())
    shutil.rmtree(cache_dir, ignore_errors=True)
    os.replace(cold, cache_dir)
    # Rounds alternate the order; each figure is the best round, as the box is shared
    # and a neighbour's burst should not decide a comparison.
    reports: dict[tuple[str, int | None], dict[str, Any]] = {}
    orders = [RUNS if n % 2 == 0 else RUNS[::-1] for n in range(args.rounds)]
    for round_no, order in enumerate(orders):
        for backend, threads in order:
            stem = OUT / f"run-{backend}-{threads or 'default'}-{round_no}"
            extra = ["--threads", str(threads)] if threads else []
            run_child(
                ["--worker", backend, "--cache-dir", str(cache_dir), "--out", str(stem), *extra]
            )
            report = json.loads(stem.with_suffix(".json").read_text())
            report["queries"] = np.load(stem.with_suffix(".queries.npy"))
            report["passages"] = np.load(stem.with_suffix(".passages.npy"))
            reports[(backend, threads)] = best_of(reports.get((backend, threads)), report)
    torch_run = reports[("torch", None)]
    for report in reports.values():
        report["ndcg10"] = ndcg10(report["queries"], docs, doc_ids, test_ids, qrels)
        cos_q = np.einsum("ij,ij->i", report["queries"], torch_run["queries"])
        cos_p = np.einsum("ij,ij->i", report["passages"], torch_run["passages"])
        report["cos_min"] = float(min(cos_q.min(), cos_p.min()))
        report["cos_mean"] = float(np.concatenate([cos_q, cos_p]).mean())
    text = render(reports, export, load_before, os.getloadavg(), len(test_ids), args.rounds)
    print(text)
    if args.write_results:
        tmp = RESULTS.with_suffix(".md.tmp")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, RESULTS)


NOTES = """\
## Notes

- **Default backend stays `onnx` (fp32).** It matches PyTorch to cosine 1.0000 on
  every SciFact query and passage and gives the identical nDCG@10.
- **int8 misses the 0.99 cosine bar**, narrowly on ordinary text and clearly on
  2-token inputs (`""`, `"!!!"`: about 0.98, see tests/retrieval/test_onnx_embedder.py).
  ORT's dynamic quantization uses one activation scale per tensor, and MiniLM has
  outlier channels (channel 99 reaches about 28 against a median of 1.3 at the FFN
  input). Recipe: MatMul only, per-channel signed int8 weights, encoder layers 0-1
  kept in fp32 (all-layer int8 reached only 0.979). Tried and rejected: per-tensor
  weights, reduce_range, SmoothQuant-style scaling, fp32 outlier channels, and
  weight-only 8-bit MatMulNBits (0.998, but no faster than fp32 on this AVX2 CPU
  without VNNI). `onnx-int8` works but is opt-in. Its retrieval quality is still
  within 0.01 nDCG@10. int8 embeds one text per run because with batching a
  text's vector would depend on its batch mates.
- **Session settings** (chosen by measurement; the box is shared, so look at the CPU
  column): 2 intra-op threads (about 6 ms against 10 ms p50 for one thread when a
  core is free, and a tie under load); no spin-waiting (no slower, and it leaves the
  gateway its CPU); no memory arena (after a batch of 64 passages, RSS goes back to
  about 0.25 GB instead of staying at 1.2 GB; the peak during that batch is the
  same).
- PyTorch's latency degrades badly when the box is busy (its OpenMP threads
  spin-wait): compare its CPU ms per query with ONNX's. With a free core it measured
  about 29 ms p50 in a separate run. Its vectors are unaffected.
- A 64-query batch pads every query to the longest one, so short-query throughput
  at batch 64 is below what smaller batches reach. Document batches are sorted by
  length first, so they pad little.
"""


def thread_label(report: dict[str, Any]) -> str:
    if report["backend"] == "torch":
        return f"{report['torch_threads']} (torch default)"
    from retrieval.embedding.onnx_embedder import default_intra_op_threads

    default = report["threads"] == default_intra_op_threads()
    return f"{report['threads']}{' (default)' if default else ''}"


def verdict(report: dict[str, Any], base: float) -> str:
    passed = report["cos_min"] >= 0.99 and abs(report["ndcg10"] - base) <= 0.01
    return "meets" if passed else "MISSES"


def render(
    reports: dict[tuple[str, int | None], dict[str, Any]],
    export: dict[str, float],
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
    n_queries: int,
    rounds: int,
) -> str:
    base = reports[("torch", None)]["ndcg10"]
    lines = [
        "# Embedding benchmarks (bench/bench_embedding.py)",
        "",
        (
            f"Machine: 2-core x86_64 CPU, no GPU, Python {platform.python_version()}. "
            f"Load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} "
            "(the box is shared; latency figures move with it, quality figures do not)."
        ),
        "",
        f"Command: `python bench/bench_embedding.py --write-results --rounds {rounds}`",
        "",
        (
            f"SciFact test: {n_queries} queries; the 5183 documents embedded once by PyTorch, "
            "the queries by each backend. Latency: one short query per call (the test "
            f"queries, after {WARMUP_RUNS} warm-up calls), query cache off. Throughput: "
            "batches of 64 (the first 256 SciFact passages, truncated at 256 tokens; and "
            "64 short queries x 4). RSS: the backend's own fresh process. Timings and RSS "
            f"are the best of {rounds} rounds run in alternating orders."
        ),
        "",
        (
            "| backend | threads | nDCG@10 | delta vs torch | min / mean cosine vs torch "
            "| p50 ms | p95 ms | CPU ms/query | p50 ms after a batch | passages/s @64 "
            "| queries/s @64 | RSS MiB: queries / after batches (peak) | warm_up s |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (backend, threads), r in reports.items():
        lines.append(
            f"| {backend} | {thread_label(r)} | {r['ndcg10']:.4f} | {r['ndcg10'] - base:+.4f} "
            f"| {r['cos_min']:.4f} / {r['cos_mean']:.4f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} "
            f"| {r['cpu_ms']:.2f} | {r['p50_after_batch_ms']:.2f} "
            f"| {r['passages_per_s']:.1f} | {r['queries_per_s']:.1f} "
            f"| {r['rss_after_queries_kib'] / 1024:.0f} / {r['VmRSS'] / 1024:.0f} "
            f"({r['VmHWM'] / 1024:.0f}) | {r['warm_up_s']:.2f} |"
        )
    lines += ["", "Parity bar (every text cosine >= 0.99 and |delta nDCG@10| <= 0.01):"]
    for backend in ("onnx", "onnx-int8"):
        r = reports[(backend, 2)]
        lines.append(
            f"- {backend}: {verdict(r, base)} it (min cosine {r['cos_min']:.4f}, "
            f"delta {r['ndcg10'] - base:+.4f})."
        )
    hits = [
        f"{b}: {r['cache_hit_us']:.1f} µs"
        for (b, t), r in reports.items()
        if t == 2 and "cache_hit_us" in r
    ]
    no_torch = all(not r["torch_imported"] for (b, _), r in reports.items() if b != "torch")
    lines += [
        "",
        f"Query-cache hit (same query again): {', '.join(hits)}.",
        f"ONNX worker processes imported torch: {'no' if no_torch else 'YES'}.",
        "",
        (
            "Export from a cold cache (fresh process; includes importing torch and loading "
            f"the weights): fp32 {export['fp32_s']:.1f} s ({export['fp32_mb']:.0f} MB), "
            f"then int8 quantization {export['int8_s']:.1f} s ({export['int8_mb']:.0f} MB)."
        ),
    ]
    return "\n".join([*lines, "", NOTES]) + "\n"


if __name__ == "__main__":
    main()
