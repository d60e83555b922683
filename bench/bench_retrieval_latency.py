"""Query latency of hybrid retrieval, on the blueprint corpus and on 100,000 synthetic chunks.

Part 1 (blueprint corpus, real embedder): end-to-end ``HybridSearcher.search``
top-10 hybrid latency, query embedding included, each query seen once (no
cache can help), then the same queries again (a query cache, if the embedder
has one, now hits). Embedding and retrieval are also timed apart.

Part 2 (scale): 100,000 chunks whose text is sampled from the real corpus
vocabulary with its word frequencies and chunk lengths. The dense side uses
``HashingEmbedder`` (random unit vectors): embedding 100k chunks with MiniLM on
2 cores would take well over an hour, and vector values do not change search
cost. Reported: build throughput, hybrid p50/p95 with a precomputed query
vector (+ the measured query-embedding cost from part 1), filtered search,
HNSW for comparison, and peak RSS.

    python bench/bench_retrieval_latency.py --embedder torch --write-results
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from results_file import update_section

from retrieval.chunking import Chunk
from retrieval.config import RetrievalConfig
from retrieval.embedding.factory import make_embedder
from retrieval.embedding.fake import HashingEmbedder
from retrieval.errors import IndexError_
from retrieval.index import build_index, build_index_from_chunks, load_index
from retrieval.index.manifest import content_hash, corpus_hash
from retrieval.ingest import load_paths
from retrieval.searcher import HybridSearcher

OUT = ROOT / "bench" / "out" / "latency"
TEMPLATES = [
    "What is the target for {kpi}?",
    "{kpi} target and frequency",
    "how is {kpi} measured",
    "{section} for a {role}",
    "{role} {section}",
    "what does a {role} do about {kpi}",
]


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1000.0
    return {
        "n": len(ms),
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
    }


def fmt(stats: dict[str, float]) -> str:
    return f"{stats['p50']:.1f} | {stats['p95']:.1f} | {stats['p99']:.1f} | {stats['mean']:.1f} | {stats['n']}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def make_queries(chunks: list[Chunk], n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    kpis = sorted(
        {
            c.section_path[-1]
            for c in chunks
            if c.kind == "table_row" and "KPI" in (c.metadata.get("cells") or {})
        }
    )
    sections = sorted({c.section_path[1] for c in chunks if len(c.section_path) > 1})
    roles = sorted({c.doc_title for c in chunks})
    queries: list[str] = []
    seen: set[str] = set()
    while len(queries) < n:
        template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        query = template.format(
            kpi=kpis[int(rng.integers(len(kpis)))].lower(),
            section=sections[int(rng.integers(len(sections)))].lower(),
            role=roles[int(rng.integers(len(roles)))],
        )
        if query not in seen:
            seen.add(query)
            queries.append(query)
    return queries


def corpus_part(
    embedder_name: str, n_queries: int
) -> tuple[dict[str, Any], list[Chunk], list[str]]:
    config = RetrievalConfig(embedding_backend=embedder_name)  # type: ignore[arg-type]
    embedder = make_embedder(config, ROOT / "var" / "models")
    embedder.warm_up()
    blueprints = load_paths([ROOT / "corpus"]).blueprints
    root = OUT / f"corpus-index-{embedder_name}"
    wanted = corpus_hash([content_hash(b) for b in blueprints])
    try:
        index = load_index(root, embedder)
        if index.manifest.corpus_hash != wanted:
            raise IndexError_("corpus changed")
        build_s = None
    except IndexError_:
        started = time.perf_counter()
        build_index(blueprints, root, config.model_copy(update={"keep_versions": 1}), embedder)
        build_s = time.perf_counter() - started
        index = load_index(root, embedder)
    searcher = HybridSearcher(index, embedder, config)
    queries = make_queries(index.chunks, n_queries)
    for query in ["warm up one", "warm up two", "inference availability"]:
        searcher.search(query, k=10)

    cold, embed_only, retrieve_only, warm = [], [], [], []
    for query in queries:  # each query for the first time: no cache can help
        t0 = time.perf_counter()
        searcher.search(query, k=10, mode="hybrid")
        cold.append(time.perf_counter() - t0)
    for query in queries:  # the same queries again: an embedding cache now hits
        t0 = time.perf_counter()
        searcher.search(query, k=10, mode="hybrid")
        warm.append(time.perf_counter() - t0)
    for query in queries:
        t0 = time.perf_counter()
        vector = searcher.embed_query(query + " (timing embed only)")
        t1 = time.perf_counter()
        searcher.search(query, k=10, mode="hybrid", query_vector=vector)
        t2 = time.perf_counter()
        embed_only.append(t1 - t0)
        retrieve_only.append(t2 - t1)
    result = {
        "fusion": f"{config.fusion} fusion, α={config.alpha}, depth {config.depth}",
        "embedder": embedder_name,
        "model": embedder.name,
        "chunks": index.size,
        "documents": len(blueprints),
        "build_s": build_s,
        "end_to_end_first_seen": percentiles(cold),
        "end_to_end_repeat": percentiles(warm),
        "embed_only": percentiles(embed_only),
        "retrieval_only": percentiles(retrieve_only),
        "peak_rss_mib": peak_rss_mib(),
    }
    return result, index.chunks, queries


def synthetic_chunks(real: list[Chunk], n: int, seed: int = 1) -> list[Chunk]:
    rng = np.random.default_rng(seed)
    words = Counter(w for c in real for w in c.text.split())
    vocab = np.array(list(words))
    probs = np.array(list(words.values()), dtype=np.float64)
    probs /= probs.sum()
    lengths = np.array([len(c.text.split()) for c in real])
    paths = [c.section_path[1:] for c in real]
    families = sorted({str(c.metadata.get("family")) for c in real})
    levels = sorted({str(c.metadata.get("level")) for c in real})
    kinds = [c.kind for c in real]
    chunks = []
    sample_len = rng.choice(lengths, size=n)
    all_words = rng.choice(vocab, size=int(sample_len.sum()), p=probs)
    offset = 0
    for i in range(n):
        text = " ".join(all_words[offset : offset + sample_len[i]])
        offset += sample_len[i]
        role = f"synthetic-role-{i % 400:03d}"
        template = int(rng.integers(len(real)))
        path = [f"Synthetic Role {i % 400:03d}", *paths[template]]
        chunks.append(
            Chunk(
                id=f"s{i:07d}",
                doc_slug=role,
                doc_title=path[0],
                section_id=f"{role}/section-{template % 97}",
                section_path=path,
                text=text,
                kind=kinds[template],
                metadata={
                    "role": role,
                    "family": families[i % len(families)],
                    "level": levels[i % len(levels)],
                },
            )
        )
    return chunks


def scale_part(
    real: list[Chunk], queries: list[str], n: int, embed_p50_ms: float
) -> dict[str, Any]:
    started = time.perf_counter()
    chunks = synthetic_chunks(real, n)
    generate_s = time.perf_counter() - started
    results: dict[str, Any] = {"chunks": n, "generate_s": generate_s, "indexes": {}}
    exact_top10: dict[str, set[str]] = {}
    for kind in ("flat", "hnsw"):
        config = RetrievalConfig(faiss_index=kind, keep_versions=1)  # type: ignore[arg-type]
        embedder = HashingEmbedder()
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        build_index_from_chunks(
            chunks,
            OUT / f"scale-{kind}",
            config,
            embedder,
            progress=lambda stage, done, total, stages=stages, t0=t0: stages.__setitem__(
                stage, time.perf_counter() - t0
            ),
        )
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = load_index(OUT / f"scale-{kind}", embedder)
        load_s = time.perf_counter() - t0
        searcher = HybridSearcher(index, embedder, config)
        vectors = {q: embedder.embed([q])[0] for q in queries}
        for q in queries[:5]:
            searcher.search(q, k=10, query_vector=vectors[q])
        timings: dict[str, list[float]] = {
            "hybrid": [],
            "bm25": [],
            "dense": [],
            "hybrid_role_filter": [],
            "hybrid_family_filter": [],
        }
        for q in queries:
            for name, kwargs in (
                ("hybrid", {}),
                ("bm25", {"mode": "bm25"}),
                ("dense", {"mode": "dense"}),
                ("hybrid_role_filter", {"filters": {"role": "synthetic-role-007"}}),
                ("hybrid_family_filter", {"filters": {"family": "applied-ai"}}),
            ):
                t = time.perf_counter()
                searcher.search(q, k=10, query_vector=vectors[q], **kwargs)  # type: ignore[arg-type]
                timings[name].append(time.perf_counter() - t)
        stats = {name: percentiles(samples) for name, samples in timings.items()}
        overlaps = []
        for q in queries:
            top10 = {
                h.chunk.id for h in searcher.search(q, k=10, mode="dense", query_vector=vectors[q])
            }
            if kind == "flat":
                exact_top10[q] = top10
            overlaps.append(len(top10 & exact_top10[q]) / 10)
        results["indexes"][kind] = {
            "dense_recall_at_10_vs_flat": float(np.mean(overlaps)),
            "build_s": build_s,
            "stages_s": stages,
            "chunks_per_s": n / build_s,
            "load_s": load_s,
            "latency": stats,
            "hybrid_p95_with_query_embedding_ms": stats["hybrid"]["p95"] + embed_p50_ms,
            "nnz_postings": int(index.bm25.weights.nnz),
            "terms": len(index.bm25.vocab),
        }
        del searcher, index
    results["peak_rss_mib"] = peak_rss_mib()
    return results


def hnsw_recall_on_real_vectors() -> dict[str, float] | None:
    """HNSW vs exact recall@10 on real MiniLM vectors: the SciFact embeddings cached
    by bench_scifact.py (skipped when that benchmark has not been run)."""
    import glob

    docs = sorted(glob.glob(str(ROOT / "bench" / "out" / "scifact" / "docs-*.npy")))
    queries = sorted(glob.glob(str(ROOT / "bench" / "out" / "scifact" / "queries-*.npy")))
    if not docs or not queries:
        return None
    from retrieval.dense import DenseIndex, HnswParams

    config = RetrievalConfig()
    vectors, query_vectors = np.load(docs[0]), np.load(queries[0])
    flat = DenseIndex.build(vectors, "flat")
    t0 = time.perf_counter()
    params = HnswParams(config.hnsw_m, config.hnsw_ef_construction, config.hnsw_ef_search)
    hnsw = DenseIndex.build(vectors, "hnsw", params)
    build_s = time.perf_counter() - t0
    overlaps = [
        len(set(flat.search(q, 10)[0].tolist()) & set(hnsw.search(q, 10)[0].tolist())) / 10
        for q in query_vectors
    ]
    return {
        "vectors": len(vectors),
        "queries": len(query_vectors),
        "build_s": build_s,
        "recall_at_10": float(np.mean(overlaps)),
    }


def torch_embedding_throughput(real: list[Chunk], sample: int = 256) -> float:
    embedder = make_embedder(RetrievalConfig(embedding_backend="torch"), ROOT / "var" / "models")
    embedder.warm_up()
    texts = [c.indexed_text for c in real[:sample]]
    t0 = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t0)


def render(
    corpus: dict[str, Any],
    scale: dict[str, Any] | None,
    throughput: float | None,
    args: argparse.Namespace,
) -> tuple[str, str | None]:
    """(blueprint-corpus section, scale section or None)."""
    load = os.getloadavg()
    header = [
        f"Command: `python bench/bench_retrieval_latency.py --embedder {args.embedder} --queries {args.queries}"
        + (f" --scale {args.scale}" if scale else " --scale 0")
        + " --write-results`  ",
        (
            "Machine: 2-core x86_64 CPU, no GPU, Python 3.11; shared with other jobs "
            f"(1/5/15-min load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}), "
            "so figures are upper bounds."
        ),
        "",
    ]
    lines = [
        f"## Query latency, blueprint corpus ({corpus['embedder']} embedder)",
        "",
        *header,
        (
            f"### Blueprint corpus: {corpus['documents']} blueprints, {corpus['chunks']} chunks, top-10 hybrid "
            f"({corpus['fusion']}), {corpus['end_to_end_first_seen']['n']} distinct queries"
        ),
        "",
        "| measurement (ms) | p50 | p95 | p99 | mean | n |",
        "|---|---|---|---|---|---|",
        f"| end to end, query seen for the first time | {fmt(corpus['end_to_end_first_seen'])} |",
        f"| end to end, same queries again | {fmt(corpus['end_to_end_repeat'])} |",
        f"| query embedding only | {fmt(corpus['embed_only'])} |",
        f"| retrieval only (BM25 + faiss + fusion, vector given) | {fmt(corpus['retrieval_only'])} |",
        "",
        "Targets: p50 ≤ 10 ms, p95 ≤ 25 ms end to end (first-seen queries)."
        + (
            " The torch embedder alone needs about that; rerun with `--embedder onnx` or "
            "`--embedder onnx-int8` for the ONNX Runtime embedder."
            if corpus["embedder"] == "torch"
            else ""
        ),
    ]
    if corpus["build_s"] is not None:
        lines.append(
            f"Index build for the corpus (chunk + analyze + embed + write): {corpus['build_s']:.1f} s."
        )
    if not scale:
        return "\n".join(lines) + "\n", None
    corpus_text = "\n".join(lines) + "\n"
    lines = ["## Query latency at scale", "", *header]
    lines += [
        f"### Scale: {scale['chunks']:,} synthetic chunks (real-corpus vocabulary and chunk lengths; random vectors)",
        "",
        (
            "| index | build s | chunks/s | load s | BM25 postings | hybrid p50 | hybrid p95 | bm25 p95 | dense p95 "
            "| hybrid+role filter p95 | hybrid+family filter p95 | hybrid p95 + query embedding p50 "
            "| dense recall@10 vs flat |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in scale["indexes"].items():
        lat = r["latency"]
        lines.append(
            f"| {kind} | {r['build_s']:.1f} | {r['chunks_per_s']:,.0f} | {r['load_s']:.1f} | {r['nnz_postings']:,} "
            f"| {lat['hybrid']['p50']:.1f} | {lat['hybrid']['p95']:.1f} | {lat['bm25']['p95']:.1f} "
            f"| {lat['dense']['p95']:.1f} | {lat['hybrid_role_filter']['p95']:.1f} "
            f"| {lat['hybrid_family_filter']['p95']:.1f} | {r['hybrid_p95_with_query_embedding_ms']:.1f} "
            f"| {r['dense_recall_at_10_vs_flat']:.3f} |"
        )
    lines += [
        "",
        "Latencies in ms over the same distinct queries. The query vector is precomputed, so the "
        "'hybrid p95 + query embedding p50' column adds the p50 query-embedding time measured with the "
        f"{corpus['embedder']} embedder on the blueprint corpus in the same run. Target: hybrid p95 ≤ 60 ms. "
        "Build throughput excludes real embedding (random vectors); "
        + (
            f"MiniLM on torch embeds ~{throughput:.0f} chunks/s on this machine, i.e. ~{scale['chunks'] / throughput / 60:.0f} min for "
            f"{scale['chunks']:,} chunks, which dominates a real build."
            if throughput
            else ""
        )
        + f" Peak RSS of the whole benchmark process: {scale['peak_rss_mib']:,.0f} MiB. "
        "Random 384-d vectors have no cluster structure, the worst case for HNSW recall; "
        "role filter = 1/400 of the chunks (exact scan of the subset), family filter = 1/3.",
    ]
    real = scale.get("hnsw_real")
    if real:
        lines += [
            "",
            (
                f"HNSW on real MiniLM vectors (SciFact, {real['vectors']:,} documents, "
                f"{real['queries']:,} queries, shipped HNSW settings): recall@10 vs exact "
                f"{real['recall_at_10']:.3f}, build {real['build_s']:.1f} s."
            ),
        ]
    return corpus_text, "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--embedder", default="torch", choices=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--scale", type=int, default=100_000, help="synthetic chunks (0 skips the scale test)"
    )
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    corpus, real, queries = corpus_part(args.embedder, args.queries)
    print(corpus, file=sys.stderr)
    scale = throughput = None
    if args.scale:
        scale = scale_part(real, queries, args.scale, corpus["embed_only"]["p50"])
        throughput = torch_embedding_throughput(real)
        scale["hnsw_real"] = hnsw_recall_on_real_vectors()
        print(scale, file=sys.stderr)
    corpus_text, scale_text = render(corpus, scale, throughput, args)
    print(corpus_text)
    if scale_text:
        print(scale_text)
    if args.write_results:
        results = ROOT / "bench" / "results" / "retrieval.md"
        update_section(results, f"latency-{args.embedder}", corpus_text)
        if scale_text:
            update_section(results, "latency-scale", scale_text)


if __name__ == "__main__":
    main()
