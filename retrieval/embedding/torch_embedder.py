"""Reference embedder: sentence-transformers on PyTorch (used to build document vectors)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embedding.model_path import (
    MAX_POSITIONS,
    MODEL_NAME,
    checked_passage_window,
    minilm_path,
)


class TorchEmbedder:
    def __init__(
        self,
        model_dir: Path | None = None,
        batch_size: int = 64,
        passage_max_tokens: int = MAX_POSITIONS,
    ) -> None:
        self._model_dir = model_dir
        self._batch_size = batch_size
        self._passage_max_tokens = checked_passage_window(passage_max_tokens)
        self._model: Any = None
        # sentence-transformers keeps the window on the model object, so a passage
        # call swaps it: the lock keeps a concurrent query call on its own window.
        self._window = threading.Lock()

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dim(self) -> int:
        return 384

    @property
    def passage_max_tokens(self) -> int:
        return self._passage_max_tokens

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
        with self._window:
            return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Like ``embed``, truncating each text at ``passage_max_tokens``."""
        self.warm_up()
        with self._window:
            query_window = self._model.max_seq_length
            self._model.max_seq_length = self._passage_max_tokens
            try:
                return self._encode(texts)
            finally:
                self._model.max_seq_length = query_window

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
