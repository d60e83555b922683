"""Embedder registry: ``RetrievalConfig.embedding_backend`` -> an ``Embedder``.

Built-in backends register through ``register_backend`` exactly as an extension
would. Constructors are cheap; weights load in ``warm_up()``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from retrieval.config import RetrievalConfig
from retrieval.embedding.base import Embedder
from retrieval.errors import ModelUnavailable

BackendFactory = Callable[[RetrievalConfig, Path], Embedder]

_BACKENDS: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    _BACKENDS[name] = factory


def backends() -> list[str]:
    return sorted(_BACKENDS)


def make_embedder(config: RetrievalConfig, cache_dir: Path) -> Embedder:
    """The embedder named by ``config.embedding_backend``; ``cache_dir`` holds exported models."""
    try:
        factory = _BACKENDS[config.embedding_backend]
    except KeyError:
        raise ModelUnavailable(
            f"unknown embedding backend {config.embedding_backend!r} "
            f"(known: {', '.join(backends())})"
        ) from None
    return factory(config, cache_dir)


def _torch(config: RetrievalConfig, cache_dir: Path) -> Embedder:
    from retrieval.embedding.torch_embedder import TorchEmbedder

    return TorchEmbedder(
        batch_size=config.embedding_batch_size,
        passage_max_tokens=config.embedding_passage_max_tokens,
    )


def _onnx(quantized: bool) -> BackendFactory:
    def factory(config: RetrievalConfig, cache_dir: Path) -> Embedder:
        try:
            from retrieval.embedding.onnx_embedder import OnnxEmbedder
        except ImportError as exc:
            raise ModelUnavailable(
                "the ONNX embedder is not available in this install "
                f"({exc}); set LADDER_RETRIEVAL__EMBEDDING_BACKEND=torch to use PyTorch"
            ) from exc
        return OnnxEmbedder(
            model_dir=None,
            cache_dir=cache_dir,
            quantized=quantized,
            batch_size=config.embedding_batch_size,
            cache_size=config.query_cache_size,
            intra_op_threads=config.embedding_threads,
            passage_max_tokens=config.embedding_passage_max_tokens,
        )

    return factory


register_backend("torch", _torch)
register_backend("onnx", _onnx(quantized=False))
register_backend("onnx-int8", _onnx(quantized=True))
