"""Build a new index version next to the served one, then publish it atomically.

Layout: ``root/<version>/`` holds chunks.jsonl, bm25.npz + vocab.json (term
frequencies; weights are recomputed at load), dense.faiss, manifest.json and,
written last, ``complete``. Everything is written into ``root/.build-*`` first
and renamed into place in one step, so a reader never sees half an index and a
crashed build leaves only a temp folder (cleaned up by a later build).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.analyzer import Analyzer
from retrieval.chunking import Chunk, Chunker, ChunkerSettings
from retrieval.config import RetrievalConfig
from retrieval.dense import DenseIndex, HnswParams
from retrieval.documents import Blueprint
from retrieval.embedding.base import Embedder, PassageEmbedder, embed_passages
from retrieval.errors import IndexError_
from retrieval.index import manifest as mf
from retrieval.index.store import prune_versions
from retrieval.sparse import BM25Index, BM25Params

# (stage, done, total): stages are "chunk", "analyze", "embed", "write".
Progress = Callable[[str, int, int], None]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_version(root: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version, n = stamp, 2
    while (root / version).exists():  # two builds in one microsecond
        version, n = f"{stamp}-{n}", n + 1
    return version


def bm25_tokens(chunk: Chunk, analyzer: Analyzer, heading_repeat: int) -> list[str]:
    """What BM25 indexes for a chunk: its indexed text, plus its own section heading
    ``heading_repeat`` more times (see ``RetrievalConfig.bm25_heading_repeat``)."""
    heading = chunk.section_path[-1] if chunk.section_path else ""
    return analyzer.tokenize(heading) * heading_repeat + analyzer.tokenize(chunk.indexed_text)


def embed_texts(
    embedder: Embedder, texts: Sequence[str], batch_size: int, progress: Progress | None = None
) -> np.ndarray:
    embedder.warm_up()
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        vectors = np.asarray(embed_passages(embedder, batch), dtype=np.float32)
        if vectors.shape != (len(batch), embedder.dim) or not np.isfinite(vectors).all():
            raise IndexError_(
                f"embedder {embedder.name!r} returned an array of shape {vectors.shape} "
                f"(expected {(len(batch), embedder.dim)}, finite values)"
            )
        out[start : start + len(batch)] = vectors
        if progress:
            progress("embed", start + len(batch), len(texts))
    return out


def build_index(
    blueprints: Iterable[Blueprint],
    root: Path,
    config: RetrievalConfig,
    embedder: Embedder,
    progress: Progress | None = None,
) -> Path:
    """Chunk, analyze, embed and publish a new version; returns its directory."""
    blueprints = list(blueprints)
    chunker = Chunker(ChunkerSettings(config.chunk_max_tokens, config.chunk_min_tokens))
    chunks: list[Chunk] = []
    documents: list[mf.DocumentEntry] = []
    for i, blueprint in enumerate(blueprints):
        own = chunker.chunk_blueprint(blueprint)
        chunks.extend(own)
        documents.append(
            mf.DocumentEntry(
                slug=blueprint.slug,
                title=blueprint.role,
                source=blueprint.source,
                content_hash=mf.content_hash(blueprint),
                sections=sum(1 for _ in blueprint.walk()),
                chunks=len(own),
            )
        )
        if progress:
            progress("chunk", i + 1, len(blueprints))
    return build_index_from_chunks(
        chunks,
        root,
        config,
        embedder,
        progress=progress,
        documents=documents,
        chunker_settings=chunker.settings.as_dict(),
        blueprints=blueprints,
    )


def build_index_from_chunks(
    chunks: Sequence[Chunk],
    root: Path,
    config: RetrievalConfig,
    embedder: Embedder,
    *,
    progress: Progress | None = None,
    documents: list[mf.DocumentEntry] | None = None,
    chunker_settings: dict[str, object] | None = None,
    vectors: np.ndarray | None = None,
    blueprints: Sequence[Blueprint] | None = None,
) -> Path:
    """Index ready-made chunks (benchmarks feed SciFact or synthetic chunks this way).

    ``vectors`` may carry precomputed embeddings of ``chunk.indexed_text``, made by
    ``embedder``; they are trusted, so only pass vectors from the same model.
    """
    if not chunks:
        raise IndexError_("nothing to index: no chunks were produced from the input")
    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    analyzer = Analyzer()
    texts = [chunk.indexed_text for chunk in chunks]
    tokens = []
    for i, chunk in enumerate(chunks):
        tokens.append(bm25_tokens(chunk, analyzer, config.bm25_heading_repeat))
        if progress and (i + 1) % 1000 == 0:
            progress("analyze", i + 1, len(texts))
    if progress:
        progress("analyze", len(texts), len(texts))
    params = BM25Params(config.bm25_k1, config.bm25_b, config.bm25_epsilon)
    bm25 = BM25Index.from_tokens(tokens, params)
    if vectors is None:
        vectors = embed_texts(embedder, texts, config.embedding_batch_size, progress)
    elif vectors.shape != (len(chunks), embedder.dim):
        raise IndexError_(
            f"precomputed vectors have shape {vectors.shape}, "
            f"expected {(len(chunks), embedder.dim)}"
        )
    hnsw = HnswParams(config.hnsw_m, config.hnsw_ef_construction, config.hnsw_ef_search)
    dense = DenseIndex.build(vectors, config.faiss_index, hnsw)

    version = _new_version(root)
    tmp = root / f".build-{version}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        if progress:
            progress("write", 0, 1)
        with (tmp / mf.CHUNKS).open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk.model_dump_json() + "\n")
        np.savez(
            tmp / mf.BM25,
            tf=bm25.tf.data,
            indices=bm25.tf.indices,
            indptr=bm25.tf.indptr,
            doc_len=bm25.doc_len,
        )
        (tmp / mf.VOCAB).write_text(json.dumps(bm25.vocab, ensure_ascii=False), encoding="utf-8")
        dense.save(tmp / mf.DENSE)
        written = list(mf.DATA_FILES)
        if blueprints:
            with (tmp / mf.BLUEPRINTS).open("w", encoding="utf-8") as handle:
                for blueprint in blueprints:
                    handle.write(blueprint.model_dump_json() + "\n")
            written.append(mf.BLUEPRINTS)
        if documents is None:
            documents = _documents_from_chunks(chunks)
        manifest = mf.IndexManifest(
            format_version=mf.FORMAT_VERSION,
            version=version,
            built_at=datetime.now(UTC).isoformat(),
            build_seconds=round(time.perf_counter() - started, 3),
            embedding=mf.EmbeddingInfo(
                model=embedder.name,
                dim=embedder.dim,
                passage_max_tokens=(
                    embedder.passage_max_tokens if isinstance(embedder, PassageEmbedder) else None
                ),
            ),
            dense=mf.DenseInfo(
                kind=config.faiss_index,
                hnsw_m=hnsw.m,
                hnsw_ef_construction=hnsw.ef_construction,
                hnsw_ef_search=hnsw.ef_search,
            ),
            chunker=chunker_settings or {"version": None, "note": "chunks supplied by the caller"},
            analyzer=analyzer.settings,
            bm25={**params.as_dict(), "heading_repeat": config.bm25_heading_repeat},
            counts=mf.Counts(
                documents=len(documents),
                sections=len({c.section_id for c in chunks}),
                chunks=len(chunks),
                terms=len(bm25.vocab),
            ),
            corpus_hash=mf.corpus_hash([d.content_hash for d in documents]),
            documents=documents,
            files={name: mf.file_entry(tmp / name) for name in written},
        )
        manifest.write(tmp)
        for name in (*written, mf.MANIFEST):
            with (tmp / name).open("rb") as handle:
                os.fsync(handle.fileno())
        (tmp / mf.COMPLETE).write_text(version + "\n", encoding="utf-8")
        _fsync_dir(tmp)
        final = root / version
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        progress("write", 1, 1)
    prune_versions(root, keep=config.keep_versions, protect=version)
    return final


def _documents_from_chunks(chunks: Sequence[Chunk]) -> list[mf.DocumentEntry]:
    """Document entries when only chunks are known: the hash covers their text."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_slug, []).append(chunk)
    entries = []
    for slug, own in by_doc.items():
        digest = hashlib.sha256("\n".join(c.indexed_text for c in own).encode("utf-8")).hexdigest()
        entries.append(
            mf.DocumentEntry(
                slug=slug,
                title=own[0].doc_title,
                content_hash=digest,
                sections=len({c.section_id for c in own}),
                chunks=len(own),
            )
        )
    return entries
