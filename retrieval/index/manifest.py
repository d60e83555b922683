"""The index manifest: what an index version contains and how it was built.

``load_index`` checks it against the embedder that will serve queries and
against the files on disk, so a mismatched or damaged index is refused with a
reason instead of returning wrong results.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrieval.documents import Blueprint

# Bumped whenever the layout or meaning of the files changes; older versions are refused.
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
BM25 = "bm25.npz"
VOCAB = "vocab.json"
DENSE = "dense.faiss"
COMPLETE = "complete"
DATA_FILES = (CHUNKS, BM25, VOCAB, DENSE)
# The parsed blueprints, when the index was built from blueprints (not from bare chunks):
# the roles API serves them, so it always describes the index version being searched.
BLUEPRINTS = "blueprints.jsonl"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileEntry(_Strict):
    bytes: int = Field(ge=0)
    sha256: str


class DocumentEntry(_Strict):
    slug: str
    title: str
    source: str | None = None
    content_hash: str
    sections: int = Field(ge=0)
    chunks: int = Field(ge=0)


class EmbeddingInfo(_Strict):
    model: str
    dim: int = Field(ge=1)
    # Wordpieces of each chunk the embedder read (None: an embedder without a separate
    # passage window, or an index built before this was recorded). Informational:
    # queries embed into the same space whatever the window.
    passage_max_tokens: int | None = Field(None, ge=1)


class DenseInfo(_Strict):
    kind: Literal["flat", "hnsw"]
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int


class Counts(_Strict):
    documents: int = Field(ge=0)
    sections: int = Field(ge=0)
    chunks: int = Field(ge=0)
    terms: int = Field(ge=0)


class IndexManifest(_Strict):
    format_version: int
    version: str
    built_at: str
    build_seconds: float = Field(ge=0)
    embedding: EmbeddingInfo
    dense: DenseInfo
    chunker: dict[str, Any]
    analyzer: dict[str, Any]
    bm25: dict[str, float]
    counts: Counts
    corpus_hash: str
    documents: list[DocumentEntry]
    files: dict[str, FileEntry]

    def write(self, directory: Path) -> None:
        (directory / MANIFEST).write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")


def content_hash(blueprint: Blueprint) -> str:
    """Hash of the parsed document, so a re-ingest shows which documents changed."""
    canonical = json.dumps(blueprint.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def corpus_hash(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(hashes)).encode("ascii")).hexdigest()


def file_entry(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return FileEntry(bytes=path.stat().st_size, sha256=digest.hexdigest())
