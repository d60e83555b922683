"""Finding, loading, checking and pruning index versions.

Only directories with a ``complete`` marker count. The newest one is served;
if it is damaged or was built for another embedding model, loading fails with
``IndexError_`` naming the problem rather than falling back silently to an
older version (which would answer from stale content without anyone noticing).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from pydantic import ValidationError

from retrieval.analyzer import Analyzer
from retrieval.chunking import Chunk
from retrieval.dense import DenseIndex, HnswParams
from retrieval.documents import Blueprint
from retrieval.embedding.base import Embedder
from retrieval.errors import IndexError_, IndexNotFound
from retrieval.filters import FilterIndex
from retrieval.index import manifest as mf
from retrieval.sparse import BM25Index, BM25Params

_VERSION = re.compile(r"^\d{8}T\d{12}Z(-\d+)?$")
# A temp build folder this old belongs to a build that died; newer ones may be running.
STALE_BUILD_S = 3600.0


@dataclass
class LoadedIndex:
    path: Path
    manifest: mf.IndexManifest
    chunks: list[Chunk]
    bm25: BM25Index
    dense: DenseIndex
    analyzer: Analyzer
    blueprints: list[Blueprint] = field(default_factory=list)
    filters: FilterIndex = field(init=False)

    def __post_init__(self) -> None:
        self.filters = FilterIndex(self.chunks)

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def size(self) -> int:
        return len(self.chunks)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {chunk.id: i for i, chunk in enumerate(self.chunks)}

    def vectors_for(self, chunk_ids: list[str]) -> np.ndarray:
        """Stored (normalized) embeddings of chunks, e.g. for grounding checks that would
        otherwise re-embed the passages of every answer."""
        return self.dense.vectors(np.asarray([self._positions[c] for c in chunk_ids], dtype=np.int64))

    @cached_property
    def _by_section(self) -> dict[str, list[Chunk]]:
        grouped: dict[str, list[Chunk]] = {}
        for chunk in self.chunks:
            grouped.setdefault(chunk.section_id, []).append(chunk)
        return grouped

    def section_chunks(self, section_id: str) -> list[Chunk]:
        """Every chunk of one section, in document order (e.g. all rows of a table)."""
        return list(self._by_section.get(section_id, ()))

    def chunk(self, chunk_id: str) -> Chunk | None:
        position = self._positions.get(chunk_id)
        return None if position is None else self.chunks[position]


def _version_key(name: str) -> tuple[str, int]:
    stamp, _, n = name.partition("-")
    return stamp, int(n or 1)


def complete_versions(root: Path) -> list[str]:
    """Complete version names under ``root``, oldest first."""
    if not root.is_dir():
        return []
    names = [
        p.name
        for p in root.iterdir()
        if p.is_dir() and _VERSION.match(p.name) and (p / mf.COMPLETE).is_file()
    ]
    return sorted(names, key=_version_key)


def prune_versions(root: Path, *, keep: int, protect: str | None = None) -> list[str]:
    """Delete all but the newest ``keep`` complete versions (never ``protect``) and
    temp folders of builds that died; returns the removed version names."""
    versions = complete_versions(root)
    doomed = [v for v in versions[: max(0, len(versions) - keep)] if v != protect]
    for name in doomed:
        shutil.rmtree(root / name, ignore_errors=True)
    now = time.time()
    for tmp in root.glob(".build-*"):
        if tmp.is_dir() and now - tmp.stat().st_mtime > STALE_BUILD_S:
            shutil.rmtree(tmp, ignore_errors=True)
    return doomed


def load_index(root: Path, embedder: Embedder, *, verify_checksums: bool = True) -> LoadedIndex:
    """Load the newest complete version under ``root`` for queries embedded by ``embedder``."""
    versions = complete_versions(root)
    if not versions:
        raise IndexNotFound(f"no complete index under {root}; build one with: ladder ingest")
    return load_version(root / versions[-1], embedder, verify_checksums=verify_checksums)


def load_version(path: Path, embedder: Embedder, *, verify_checksums: bool = True) -> LoadedIndex:
    def refuse(reason: str) -> IndexError_:
        return IndexError_(f"index {path} cannot be used: {reason}; rebuild it with: ladder ingest")

    try:
        manifest = mf.IndexManifest.model_validate_json((path / mf.MANIFEST).read_bytes())
    except FileNotFoundError as exc:
        raise refuse("manifest.json is missing") from exc
    except (OSError, ValidationError, ValueError) as exc:
        raise refuse(f"manifest.json is unreadable ({exc.__class__.__name__}: {exc})") from exc
    if manifest.format_version != mf.FORMAT_VERSION:
        raise refuse(
            f"format version {manifest.format_version}, this code reads {mf.FORMAT_VERSION}"
        )
    if manifest.embedding.model != embedder.name:
        raise refuse(
            f"built with embedding model {manifest.embedding.model!r}, "
            f"but queries use {embedder.name!r}"
        )
    if manifest.embedding.dim != embedder.dim:
        raise refuse(
            f"vectors have {manifest.embedding.dim} dimensions, "
            f"the embedder produces {embedder.dim}"
        )
    optional = [mf.BLUEPRINTS] if mf.BLUEPRINTS in manifest.files else []
    for name in (*mf.DATA_FILES, *optional):
        expected = manifest.files.get(name)
        file = path / name
        if expected is None:
            raise refuse(f"manifest lists no entry for {name}")
        if not file.is_file():
            raise refuse(f"{name} is missing")
        size = file.stat().st_size
        if size != expected.bytes:
            raise refuse(
                f"{name} has {size} bytes, the manifest recorded {expected.bytes} (truncated?)"
            )
        if verify_checksums and mf.file_entry(file).sha256 != expected.sha256:
            raise refuse(f"{name} does not match its recorded checksum")
    try:
        analyzer = Analyzer.from_settings(manifest.analyzer)
        chunks = _read_chunks(path / mf.CHUNKS)
        bm25 = _read_bm25(path, manifest)
        hnsw = HnswParams(
            manifest.dense.hnsw_m,
            manifest.dense.hnsw_ef_construction,
            manifest.dense.hnsw_ef_search,
        )
        dense = DenseIndex.load(path / mf.DENSE, manifest.dense.kind, hnsw)
        blueprints = _read_blueprints(path / mf.BLUEPRINTS) if optional else []
    except (OSError, ValueError, RuntimeError, KeyError, zipfile.BadZipFile) as exc:
        raise refuse(f"{exc.__class__.__name__}: {exc}") from exc
    count = manifest.counts.chunks
    checks = [
        (len(chunks) == count, f"chunks.jsonl has {len(chunks)} chunks, the manifest says {count}"),
        (
            bm25.n_docs == count,
            f"the BM25 index covers {bm25.n_docs} chunks, the manifest says {count}",
        ),
        (
            dense.size == count,
            f"the vector index holds {dense.size} vectors, the manifest says {count}",
        ),
        (
            dense.dim == manifest.embedding.dim,
            f"the vector index has {dense.dim} dimensions, expected {manifest.embedding.dim}",
        ),
    ]
    for ok, reason in checks:
        if not ok:
            raise refuse(reason)
    return LoadedIndex(
        path=path,
        manifest=manifest,
        chunks=chunks,
        bm25=bm25,
        dense=dense,
        analyzer=analyzer,
        blueprints=blueprints,
    )


def _read_blueprints(path: Path) -> list[Blueprint]:
    blueprints = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                blueprints.append(Blueprint.model_validate_json(line))
            except ValidationError as exc:
                raise ValueError(
                    f"blueprints.jsonl line {number} is not a valid blueprint"
                ) from exc
    return blueprints


def _read_chunks(path: Path) -> list[Chunk]:
    chunks = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                chunks.append(Chunk.model_validate_json(line))
            except ValidationError as exc:
                raise ValueError(f"chunks.jsonl line {number} is not a valid chunk") from exc
    return chunks


def _read_bm25(path: Path, manifest: mf.IndexManifest) -> BM25Index:
    vocab = json.loads((path / mf.VOCAB).read_text(encoding="utf-8"))
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise ValueError("vocab.json is not a list of terms")
    with np.load(path / mf.BM25, allow_pickle=False) as data:
        indptr, indices, tf, doc_len = data["indptr"], data["indices"], data["tf"], data["doc_len"]
    if indptr.shape != (len(vocab) + 1,) or indices.shape != tf.shape or int(indptr[-1]) != tf.size:
        raise ValueError("bm25.npz is inconsistent with vocab.json")
    if indices.size and (indices.min() < 0 or indices.max() >= doc_len.size):
        raise ValueError("bm25.npz refers to chunks that do not exist")
    matrix = sp.csr_matrix((tf, indices, indptr), shape=(len(vocab), doc_len.size))
    # The manifest also records how the BM25 text was built (heading_repeat): not a
    # scoring parameter, and absent from indexes built before it existed.
    scoring = BM25Params().as_dict()
    params = BM25Params(**{k: float(v) for k, v in manifest.bm25.items() if k in scoring})
    return BM25Index(vocab, matrix, doc_len, params)
