"""Reference embedder: sentence-transformers on PyTorch (used to build document vectors)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embedding.model_path import MODEL_NAME, minilm_path


class TorchEmbedder:
    def __init__(self, model_dir: Path | None = None, batch_size: int = 64) -> None:
        self._model_dir = model_dir
        self._batch_size = batch_size
        self._model: Any = None

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dim(self) -> int:
        return 384

    def warm_up(self) -> None:
        if self._model is not None:
            return
        # Belt and braces: the weights are local, so no hub lookup may happen.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = self._model_dir or minilm_path()
        self._model = SentenceTransformer(str(path), device="cpu")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
