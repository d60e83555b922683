from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from retrieval.config import RetrievalConfig
from retrieval.embedding.base import Embedder, PassageEmbedder
from retrieval.embedding.factory import backends, make_embedder, register_backend
from retrieval.embedding.torch_embedder import TorchEmbedder
from retrieval.errors import ModelUnavailable


def test_torch_backend(tmp_path: Path) -> None:
    embedder = make_embedder(
        RetrievalConfig(
            embedding_backend="torch", embedding_batch_size=8, embedding_passage_max_tokens=300
        ),
        tmp_path,
    )
    assert isinstance(embedder, TorchEmbedder) and isinstance(embedder, Embedder)
    assert isinstance(embedder, PassageEmbedder) and embedder.passage_max_tokens == 300
    assert {"torch", "onnx", "onnx-int8"} <= set(backends())


@pytest.mark.parametrize(("backend", "quantized"), [("onnx", False), ("onnx-int8", True)])
def test_onnx_backends_pass_the_agreed_arguments(
    backend: str, quantized: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: dict[str, object] = {}

    class FakeOnnxEmbedder:
        def __init__(self, **kwargs: object) -> None:
            received.update(kwargs)

    module = types.ModuleType("retrieval.embedding.onnx_embedder")
    module.OnnxEmbedder = FakeOnnxEmbedder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "retrieval.embedding.onnx_embedder", module)
    config = RetrievalConfig(
        embedding_backend=backend,  # type: ignore[arg-type]
        embedding_batch_size=32,
        query_cache_size=7,
        embedding_passage_max_tokens=384,
        embedding_threads=3,
    )
    assert isinstance(make_embedder(config, tmp_path), FakeOnnxEmbedder)
    assert received == {
        "model_dir": None,
        "cache_dir": tmp_path,
        "quantized": quantized,
        "batch_size": 32,
        "cache_size": 7,
        "intra_op_threads": 3,
        "passage_max_tokens": 384,
    }


def test_missing_onnx_module_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "retrieval.embedding.onnx_embedder", None)  # import fails
    with pytest.raises(ModelUnavailable, match="EMBEDDING_BACKEND=torch"):
        make_embedder(RetrievalConfig(embedding_backend="onnx"), tmp_path)


def test_registered_backend_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.embedding import factory
    from retrieval.embedding.fake import HashingEmbedder

    monkeypatch.setattr(factory, "_BACKENDS", dict(factory._BACKENDS))
    register_backend("torch", lambda config, cache_dir: HashingEmbedder(dim=8))
    assert make_embedder(RetrievalConfig(embedding_backend="torch"), tmp_path).dim == 8


def test_real_onnx_embedder_is_constructed_cheaply(tmp_path: Path) -> None:
    """The other engineer's OnnxEmbedder accepts the agreed constructor; nothing loads yet."""
    onnx = pytest.importorskip("retrieval.embedding.onnx_embedder")
    embedder = make_embedder(RetrievalConfig(embedding_backend="onnx-int8"), tmp_path)
    assert isinstance(embedder, onnx.OnnxEmbedder)
    assert embedder.name == TorchEmbedder().name and embedder.dim == 384
    assert not any(tmp_path.iterdir())  # constructor did no work
