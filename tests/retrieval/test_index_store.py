"""Index on disk: round trip, versions, atomic publication, refusal of bad indexes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from retrieval.analyzer import Analyzer
from retrieval.chunking import Chunk, chunk_blueprints
from retrieval.config import RetrievalConfig
from retrieval.documents import Blueprint
from retrieval.embedding.fake import HashingEmbedder
from retrieval.embedding.model_path import MODEL_NAME
from retrieval.embedding.torch_embedder import TorchEmbedder
from retrieval.errors import IndexError_, IndexNotFound
from retrieval.index import (
    LoadedIndex,
    build_index,
    build_index_from_chunks,
    complete_versions,
    load_index,
    load_version,
    prune_versions,
)
from retrieval.index import manifest as mf
from retrieval.sparse import BM25Index


class _Impostor:
    """Claims a model name and size without loading anything (load never embeds)."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def warm_up(self) -> None:
        return None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("loading an index must not embed anything")


def _only_version(root: Path) -> Path:
    [version] = complete_versions(root)
    return root / version


# -- round trip -----------------------------------------------------------------------------


def test_round_trip(
    corpus_index: LoadedIndex, corpus_blueprints: list[Blueprint], torch_embedder: TorchEmbedder
) -> None:
    expected = chunk_blueprints(corpus_blueprints)
    assert corpus_index.chunks == expected
    manifest = corpus_index.manifest
    assert manifest.format_version == mf.FORMAT_VERSION
    assert manifest.embedding.model == MODEL_NAME and manifest.embedding.dim == 384
    assert manifest.embedding.passage_max_tokens == 512
    assert manifest.counts.chunks == len(expected)
    assert manifest.counts.documents == len(corpus_blueprints)
    assert {d.slug for d in manifest.documents} == {b.slug for b in corpus_blueprints}
    assert all(len(d.content_hash) == 64 for d in manifest.documents)
    assert manifest.chunker == {"version": 1, "max_tokens": 320, "min_tokens": 40}
    assert manifest.analyzer == Analyzer().settings
    assert manifest.bm25["heading_repeat"] == RetrievalConfig().bm25_heading_repeat == 2
    # BM25 state equals a fresh build from the same chunks: each chunk's indexed text
    # (path included) with its own heading twice more.
    fresh = BM25Index.from_tokens(
        [Analyzer()(c.indexed_text) + Analyzer()(c.section_path[-1]) * 2 for c in expected]
    )
    query = Analyzer()("inference availability target")
    np.testing.assert_allclose(
        corpus_index.bm25.scores(query)[0], fresh.scores(query)[0], atol=1e-9
    )
    # Stored vectors are the model's embeddings of the indexed text, read to the passage
    # window (the longest chunk included, which is past the 256-token query window).
    longest = max(range(len(expected)), key=lambda i: len(expected[i].indexed_text))
    sample = [0, len(expected) // 2, len(expected) - 1, longest]
    vectors = torch_embedder.embed_passages([expected[i].indexed_text for i in sample])
    cosines = np.sum(corpus_index.dense.vectors(np.array(sample)) * vectors, axis=1)
    assert (cosines > 0.999).all()
    assert corpus_index.chunk(expected[3].id) == expected[3]
    # The parsed blueprints travel with the version (the roles API reads them from here).
    assert corpus_index.blueprints == corpus_blueprints


# -- refusal ----------------------------------------------------------------------------------


def _rewrite_manifest(version_dir: Path, **changes: object) -> None:
    data = json.loads((version_dir / mf.MANIFEST).read_text())
    for dotted, value in changes.items():
        target = data
        *head, last = dotted.split("__")
        for key in head:
            target = target[key]
        target[last] = value
    (version_dir / mf.MANIFEST).write_text(json.dumps(data))


def test_truncated_faiss_file_is_refused(index_copy: Path, torch_embedder: TorchEmbedder) -> None:
    faiss_file = _only_version(index_copy) / mf.DENSE
    os.truncate(faiss_file, faiss_file.stat().st_size // 2)
    with pytest.raises(IndexError_, match=r"dense\.faiss has .* bytes.*truncated"):
        load_index(index_copy, torch_embedder)


def test_truncated_faiss_file_is_refused_even_when_the_manifest_agrees(
    index_copy: Path, torch_embedder: TorchEmbedder
) -> None:
    version_dir = _only_version(index_copy)
    faiss_file = version_dir / mf.DENSE
    os.truncate(faiss_file, faiss_file.stat().st_size // 2)
    data = json.loads((version_dir / mf.MANIFEST).read_text())
    data["files"][mf.DENSE] = mf.file_entry(faiss_file).model_dump()
    (version_dir / mf.MANIFEST).write_text(json.dumps(data))
    with pytest.raises(IndexError_, match="cannot be used"):
        load_index(index_copy, torch_embedder)


def test_wrong_dimension_is_refused(index_copy: Path) -> None:
    with pytest.raises(IndexError_, match="384 dimensions, the embedder produces 256"):
        load_index(index_copy, _Impostor(MODEL_NAME, 256))


def test_manifest_dimension_disagreeing_with_vectors_is_refused(index_copy: Path) -> None:
    _rewrite_manifest(_only_version(index_copy), embedding__dim=256)
    with pytest.raises(IndexError_, match="vector index has 384 dimensions, expected 256"):
        load_index(index_copy, _Impostor(MODEL_NAME, 256))


def test_missing_file_is_refused(index_copy: Path, torch_embedder: TorchEmbedder) -> None:
    (_only_version(index_copy) / mf.CHUNKS).unlink()
    with pytest.raises(IndexError_, match=r"chunks\.jsonl is missing"):
        load_index(index_copy, torch_embedder)


def test_different_embedding_model_is_refused(index_copy: Path) -> None:
    with pytest.raises(IndexError_, match="built with embedding model"):
        load_index(index_copy, _Impostor("intfloat/e5-small-v2", 384))


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format_version": 1}'])
def test_bad_manifest_is_refused(
    index_copy: Path, torch_embedder: TorchEmbedder, content: bytes
) -> None:
    (_only_version(index_copy) / mf.MANIFEST).write_bytes(content)
    with pytest.raises(IndexError_, match=r"manifest\.json is unreadable"):
        load_index(index_copy, torch_embedder)


def test_unknown_format_version_is_refused(index_copy: Path, torch_embedder: TorchEmbedder) -> None:
    _rewrite_manifest(_only_version(index_copy), format_version=999)
    with pytest.raises(IndexError_, match="format version 999"):
        load_index(index_copy, torch_embedder)


def test_damaged_blueprints_file_is_refused(
    index_copy: Path, torch_embedder: TorchEmbedder
) -> None:
    with (_only_version(index_copy) / mf.BLUEPRINTS).open("r+b") as handle:
        handle.truncate(100)
    with pytest.raises(IndexError_, match=r"blueprints\.jsonl has 100 bytes"):
        load_index(index_copy, torch_embedder)


def test_chunk_only_builds_have_no_blueprints(tmp_path: Path, small_chunks: list[Chunk]) -> None:
    build_index_from_chunks(small_chunks, tmp_path, RetrievalConfig(), HashingEmbedder())
    loaded = load_index(tmp_path, HashingEmbedder())
    assert loaded.blueprints == [] and mf.BLUEPRINTS not in loaded.manifest.files


def test_flipped_byte_fails_the_checksum(index_copy: Path, torch_embedder: TorchEmbedder) -> None:
    chunks_file = _only_version(index_copy) / mf.CHUNKS
    data = bytearray(chunks_file.read_bytes())
    data[100] = ord("X") if data[100] != ord("X") else ord("Y")
    chunks_file.write_bytes(bytes(data))
    with pytest.raises(IndexError_, match="checksum"):
        load_index(index_copy, torch_embedder)


def test_no_index_and_incomplete_versions(tmp_path: Path, index_copy: Path) -> None:
    embedder = _Impostor(MODEL_NAME, 384)
    with pytest.raises(IndexNotFound):
        load_index(tmp_path / "nothing-here", embedder)
    (_only_version(index_copy) / mf.COMPLETE).unlink()
    with pytest.raises(IndexNotFound, match="ladder ingest"):
        load_index(index_copy, embedder)


# -- versions and atomic publication -------------------------------------------------------


@pytest.fixture
def small_chunks(corpus_blueprints: list[Blueprint]) -> list[Chunk]:
    return chunk_blueprints(corpus_blueprints[:1])


def test_versions_are_pruned_to_newest_n(tmp_path: Path, small_chunks: list[Chunk]) -> None:
    config = RetrievalConfig(keep_versions=2)
    embedder = HashingEmbedder()
    built = [
        build_index_from_chunks(small_chunks, tmp_path, config, embedder).name for _ in range(4)
    ]
    assert complete_versions(tmp_path) == built[-2:]
    assert load_index(tmp_path, embedder).version == built[-1]
    # A protected version (the one just built, or the one being served) is never removed.
    removed = prune_versions(tmp_path, keep=1, protect=built[-2])
    assert removed == [] and complete_versions(tmp_path) == built[-2:]


def test_an_embedder_without_a_passage_window_records_none(
    tmp_path: Path, small_chunks: list[Chunk]
) -> None:
    built = build_index_from_chunks(small_chunks, tmp_path, RetrievalConfig(), HashingEmbedder())
    assert load_version(built, HashingEmbedder()).manifest.embedding.passage_max_tokens is None


def test_stale_build_folders_are_cleaned(tmp_path: Path, small_chunks: list[Chunk]) -> None:
    stale, fresh = tmp_path / ".build-stale", tmp_path / ".build-running"
    stale.mkdir(), fresh.mkdir()
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    build_index_from_chunks(small_chunks, tmp_path, RetrievalConfig(), HashingEmbedder())
    assert not stale.exists() and fresh.exists()


class _FailingEmbedder(HashingEmbedder):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.calls >= 1:
            raise RuntimeError("embedding backend crashed")
        return super().embed(texts)


def test_build_never_disturbs_the_served_version(tmp_path: Path, small_chunks: list[Chunk]) -> None:
    config = RetrievalConfig(embedding_batch_size=16)
    served_dir = build_index_from_chunks(small_chunks, tmp_path, config, HashingEmbedder())
    before = {p.name: p.read_bytes() for p in served_dir.iterdir()}
    served = load_index(tmp_path, HashingEmbedder())

    with pytest.raises(RuntimeError, match="crashed"):
        build_index_from_chunks(small_chunks, tmp_path, config, _FailingEmbedder())
    assert complete_versions(tmp_path) == [served_dir.name]
    assert not list(tmp_path.glob(".build-*"))

    newer = build_index_from_chunks(small_chunks[:10], tmp_path, config, HashingEmbedder())
    assert {p.name: p.read_bytes() for p in served_dir.iterdir()} == before
    assert load_version(served_dir, HashingEmbedder()).size == served.size == len(small_chunks)
    assert load_index(tmp_path, HashingEmbedder()).version == newer.name


def test_build_writes_every_file_and_marker(
    tmp_path: Path, corpus_blueprints: list[Blueprint]
) -> None:
    stages: list[str] = []
    version_dir = build_index(
        corpus_blueprints[:1],
        tmp_path,
        RetrievalConfig(),
        HashingEmbedder(),
        progress=lambda stage, done, total: stages.append(stage),
    )
    names = {p.name for p in version_dir.iterdir()}
    assert names == {*mf.DATA_FILES, mf.BLUEPRINTS, mf.MANIFEST, mf.COMPLETE}
    assert (version_dir / mf.COMPLETE).read_text().strip() == version_dir.name
    assert {"chunk", "analyze", "embed", "write"} <= set(stages)


def test_nothing_to_index_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="nothing to index"):
        build_index([], tmp_path, RetrievalConfig(), HashingEmbedder())


def test_hnsw_index_round_trip(tmp_path: Path, small_chunks: list[Chunk]) -> None:
    config = RetrievalConfig(faiss_index="hnsw", hnsw_m=8)
    build_index_from_chunks(small_chunks, tmp_path, config, HashingEmbedder())
    loaded = load_index(tmp_path, HashingEmbedder())
    assert loaded.dense.kind == "hnsw" and loaded.manifest.dense.hnsw_m == 8
    target = small_chunks[5].indexed_text
    ids, _ = loaded.dense.search(HashingEmbedder().embed([target])[0], 3)
    assert ids[0] == 5
