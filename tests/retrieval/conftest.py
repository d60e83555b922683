"""Shared retrieval fixtures. The real-corpus index is built ONCE per session with
the real embedding model (torch MiniLM) and shared by every test that needs it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.config import RetrievalConfig
from retrieval.embedding.torch_embedder import TorchEmbedder
from retrieval.index import LoadedIndex, load_index
from retrieval.searcher import HybridSearcher

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = PROJECT / "corpus"


@pytest.fixture(scope="session")
def seed_path(shared_dir: Path) -> Path:
    path = shared_dir / "seeds" / "staff-applied-ai-engineer.wp.json"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def corpus_index(corpus_index_root: Path, torch_embedder: TorchEmbedder) -> LoadedIndex:
    return load_index(corpus_index_root, torch_embedder)


@pytest.fixture(scope="session")
def corpus_searcher(
    corpus_index: LoadedIndex, torch_embedder: TorchEmbedder, retrieval_config: RetrievalConfig
) -> HybridSearcher:
    return HybridSearcher(corpus_index, torch_embedder, retrieval_config)


@pytest.fixture
def index_copy(corpus_index_root: Path, tmp_path: Path) -> Path:
    """A private copy of the session index root, safe to damage."""
    target = tmp_path / "index"
    shutil.copytree(corpus_index_root, target)
    return target
