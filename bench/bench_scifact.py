"""Retrieval quality on BEIR SciFact: BM25, dense, RRF and weighted fusion.

Fusion parameters are tuned on the TRAIN queries only; the TEST queries are
scored once per configuration and never used for choosing. Everything runs
through the shipped code path (``build_index_from_chunks`` -> ``load_index`` ->
``HybridSearcher``), one chunk per SciFact document (title as the path prefix).

Document and query embeddings are cached under bench/out/scifact/ (git-ignored),
keyed by model name and text hash, so reruns take seconds.

    python bench/bench_scifact.py                     # tune on train, report test
    python bench/bench_scifact.py --write-results     # also update bench/results/retrieval.md
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ir_metrics import mean, ndcg_at_k, recall_at_k
from results_file import update_section

from retrieval.chunking import Chunk
from retrieval.config import RetrievalConfig
from retrieval.embedding.base import Embedder
from retrieval.embedding.factory import make_embedder
from retrieval.index import build_index_from_chunks, load_index
from retrieval.searcher import HybridSearcher

DATASET = Path("/work/shared/datasets/beir-scifact")
OUT = ROOT / "bench" / "out" / "scifact"
ALPHAS = [round(a * 0.1, 1) for a in range(11)]
RRF_KS = [5, 10, 20, 40, 60, 100]
# Evaluation asks for 100 hits (Recall@100), so fewer than 100 candidates is not an option.
DEPTHS = [100, 200, 300]


def load_dataset(
    root: Path,
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, dict[str, dict[str, int]]]]:
    with (root / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    with (root / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = {row["_id"]: row["text"] for row in map(json.loads, handle)}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for split in ("train", "test"):
        table: dict[str, dict[str, int]] = defaultdict(dict)
        lines = (root / "qrels" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        for line in lines:
            qid, doc, grade = line.split("\t")
            table[qid][doc] = int(grade)
        qrels[split] = dict(table)
    return docs, queries, qrels


def to_chunks(docs: list[dict[str, str]]) -> list[Chunk]:
    return [
        Chunk(
            id=doc["_id"],
            doc_slug=f"scifact-{doc['_id']}",
            doc_title=doc.get("title") or doc["_id"],
            section_id=f"scifact-{doc['_id']}/abstract",
            section_path=[doc["title"]] if doc.get("title") else [],
            text=doc.get("text") or "",
            kind="text",
        )
        for doc in docs
    ]


def cached_vectors(embedder: Embedder, texts: list[str], name: str, batch: int) -> np.ndarray:
    key = hashlib.sha256(("\x1e".join([embedder.name, *texts])).encode("utf-8")).hexdigest()[:16]
    path = OUT / f"{name}-{key}.npy"
    if path.is_file():
        return np.load(path)
    embedder.warm_up()
    started = time.perf_counter()
    parts = []
    for start in range(0, len(texts), batch):
        parts.append(embedder.embed(texts[start : start + batch]))
        print(
            f"  embedded {min(start + batch, len(texts))}/{len(texts)} {name}",
            file=sys.stderr,
            flush=True,
        )
    vectors = np.concatenate(parts).astype(np.float32)
    print(f"  {name}: {len(texts)} texts in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def evaluate(
    searcher: HybridSearcher,
    queries: dict[str, str],
    qvecs: dict[str, np.ndarray],
    qrels: dict[str, dict[str, int]],
    *,
    mode: str,
    fusion: str | None,
) -> dict[str, float]:
    ndcgs, recalls = [], []
    for qid, judged in qrels.items():
        hits = searcher.search(
            queries[qid], k=100, mode=mode, fusion=fusion, query_vector=qvecs[qid]
        )  # type: ignore[arg-type]
        # BEIR's default (ignore_identical_ids): a document never counts as its own query.
        ranked = [h.chunk.id for h in hits if h.chunk.id != qid]
        ndcgs.append(ndcg_at_k(ranked, judged, 10))
        recalls.append(recall_at_k(ranked, judged, 100))
    return {"ndcg@10": mean(ndcgs), "recall@100": mean(recalls), "queries": len(qrels)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--embedder", default="torch", choices=["torch", "onnx", "onnx-int8"])
    parser.add_argument(
        "--write-results", action="store_true", help="update bench/results/retrieval.md"
    )
    args = parser.parse_args()

    base = RetrievalConfig(embedding_backend=args.embedder, embedding_batch_size=32)
    embedder = make_embedder(base, ROOT / "var" / "models")
    docs, queries, qrels = load_dataset(args.dataset)
    chunks = to_chunks(docs)
    doc_vectors = cached_vectors(embedder, [c.indexed_text for c in chunks], "docs", 256)
    qids = sorted({q for split in qrels.values() for q in split})
    qmatrix = cached_vectors(embedder, [queries[q] for q in qids], "queries", 256)
    qvecs = dict(zip(qids, qmatrix, strict=True))

    started = time.perf_counter()
    index_root = OUT / "index"
    build_index_from_chunks(
        chunks,
        index_root,
        base.model_copy(update={"keep_versions": 1}),
        embedder,
        vectors=doc_vectors,
    )
    index = load_index(index_root, embedder)
    print(f"index built and loaded in {time.perf_counter() - started:.1f}s", file=sys.stderr)

    def run(split: str, mode: str, fusion: str | None = None, **overrides: Any) -> dict[str, float]:
        searcher = HybridSearcher(index, embedder, base.model_copy(update=overrides))
        return evaluate(searcher, queries, qvecs, qrels[split], mode=mode, fusion=fusion)

    # --- tuning on TRAIN -------------------------------------------------------------
    tuning: list[dict[str, Any]] = []
    for depth, alpha in itertools.product(DEPTHS, ALPHAS):
        tuning.append(
            {
                "fusion": "weighted",
                "depth": depth,
                "alpha": alpha,
                **run("train", "hybrid", "weighted", depth=depth, alpha=alpha),
            }
        )
    for depth, k in itertools.product(DEPTHS, RRF_KS):
        tuning.append(
            {
                "fusion": "rrf",
                "depth": depth,
                "rrf_k": k,
                **run("train", "hybrid", "rrf", depth=depth, rrf_k=k),
            }
        )
    best = max(tuning, key=lambda row: row["ndcg@10"])
    best_weighted = max(
        (r for r in tuning if r["fusion"] == "weighted"), key=lambda r: r["ndcg@10"]
    )
    best_rrf = max((r for r in tuning if r["fusion"] == "rrf"), key=lambda r: r["ndcg@10"])
    train_single = {"bm25": run("train", "bm25"), "dense": run("train", "dense")}
    print(f"best on train: {best}", file=sys.stderr)

    # --- TEST, scored once per configuration ---------------------------------------------
    defaults = RetrievalConfig()
    rows = [
        ("BM25 (Snowball, stop words)", run("test", "bm25")),
        ("dense all-MiniLM-L6-v2", run("test", "dense")),
        ("RRF k=60, depth 100", run("test", "hybrid", "rrf", rrf_k=60, depth=100)),
        (
            f"RRF k={best_rrf['rrf_k']}, depth {best_rrf['depth']} (train-tuned)",
            run("test", "hybrid", "rrf", rrf_k=best_rrf["rrf_k"], depth=best_rrf["depth"]),
        ),
        ("weighted α=0.5, depth 100", run("test", "hybrid", "weighted", alpha=0.5, depth=100)),
        (
            f"weighted α={best_weighted['alpha']}, depth {best_weighted['depth']} (train-tuned)",
            run(
                "test",
                "hybrid",
                "weighted",
                alpha=best_weighted["alpha"],
                depth=best_weighted["depth"],
            ),
        ),
        (
            f"shipped defaults ({defaults.fusion}, α={defaults.alpha}, rrf_k={defaults.rrf_k}, depth {defaults.depth})",
            run("test", "hybrid"),
        ),
    ]
    report = {"train_single": train_single, "tuning": tuning, "best": best, "test": dict(rows)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")

    lines = [
        "## SciFact (BEIR) retrieval quality",
        "",
        f"Command: `python bench/bench_scifact.py --embedder {args.embedder} --write-results`  ",
        (
            "Machine: 2-core x86_64 CPU, no GPU, Python 3.11. Corpus 5,183 documents (title as path prefix), "
            f"test {len(qrels['test'])} queries, train {len(qrels['train'])} queries; BEIR convention of "
            "ignoring a document whose id equals the query id."
        ),
        "",
        "### Test split (300 queries)",
        "",
        "| retriever | nDCG@10 | Recall@100 |",
        "|---|---|---|",
        *[f"| {name} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} |" for name, m in rows],
        "",
        "### Tuning on the train split (809 queries, nDCG@10)",
        "",
        (
            f"Single retrievers on train: BM25 {train_single['bm25']['ndcg@10']:.4f}, "
            f"dense {train_single['dense']['ndcg@10']:.4f}.  "
        ),
        f"Best overall on train: **{best['fusion']}** "
        + (f"α={best['alpha']}" if best["fusion"] == "weighted" else f"k={best['rrf_k']}")
        + f", depth {best['depth']} (nDCG@10 {best['ndcg@10']:.4f}); best RRF on train: k={best_rrf['rrf_k']}, "
        f"depth {best_rrf['depth']} ({best_rrf['ndcg@10']:.4f}).",
        "",
        "| depth | " + " | ".join(f"α={a}" for a in ALPHAS) + " |",
        "|---|" + "---|" * len(ALPHAS),
        *[
            f"| {d} | "
            + " | ".join(
                f"{next(r['ndcg@10'] for r in tuning if r['fusion'] == 'weighted' and r['depth'] == d and r['alpha'] == a):.4f}"
                for a in ALPHAS
            )
            + " |"
            for d in DEPTHS
        ],
        "",
        "| depth | " + " | ".join(f"RRF k={k}" for k in RRF_KS) + " |",
        "|---|" + "---|" * len(RRF_KS),
        *[
            f"| {d} | "
            + " | ".join(
                f"{next(r['ndcg@10'] for r in tuning if r['fusion'] == 'rrf' and r['depth'] == d and r['rrf_k'] == k):.4f}"
                for k in RRF_KS
            )
            + " |"
            for d in DEPTHS
        ],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        update_section(ROOT / "bench" / "results" / "retrieval.md", "scifact", text)


if __name__ == "__main__":
    main()
