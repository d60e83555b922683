"""Query embedder: the packaged MiniLM exported to ONNX and run by ONNX Runtime.

The fp32 backend produces the same vectors as sentence-transformers on PyTorch
(cosine >= 0.9999; see tests/retrieval/test_onnx_embedder.py and
bench/results/embedding.md), so documents embedded by TorchEmbedder and queries
embedded here share one index; ``name`` is therefore the weights' name, and
``backend`` tells the runtimes apart. The int8 backend is faster but only
approximately equal (cosine >= 0.98, see onnx_export.QUANT_SETTINGS).
"""

from __future__ import annotations

import json
import logging
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
from retrieval.embedding.onnx_export import (
    INPUT_NAMES,
    OUTPUT_NAME,
    OnnxExportError,
    ensure_exported,
)
from retrieval.embedding.query_cache import CacheInfo, QueryCache
from retrieval.errors import ModelUnavailable

log = logging.getLogger(__name__)

DIM = 384
# Measured on the shared 2-core box (bench/results/embedding.md): two threads beat
# one for single queries when a core is free (fp32 p50 6.3 vs 10.1 ms) and tie
# under load; more threads than cores only adds contention.
MAX_DEFAULT_THREADS = 2


def available_cores() -> int:
    """Cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere count all cores
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


def default_intra_op_threads() -> int:
    return max(1, min(MAX_DEFAULT_THREADS, available_cores()))


def mean_pool_normalize(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' Pooling(mean) then Normalize: masked mean over tokens, unit L2.

    The clamps mirror theirs: token count >= 1e-9 (torch.clamp) and norm >= 1e-12
    (torch.nn.functional.normalize's eps).
    """
    mask = attention_mask.astype(np.float32)[:, :, None]
    summed = (hidden.astype(np.float32) * mask).sum(axis=1)
    counts = np.maximum(mask.sum(axis=1), 1e-9)
    mean = summed / counts
    norms = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return (mean / norms).astype(np.float32)


def _ort_load_errors() -> tuple[type[BaseException], ...]:
    # ONNX Runtime's errors derive from Exception directly; name the load failures
    # so that programming errors still surface as themselves.
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidProtobuf", "InvalidGraph", "NoSuchFile", "NoModel", "RuntimeException")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


# sentence-transformers' max_seq_length for this model: the query window.
_QUERY_WINDOW = 256
_SMALL_BATCH = 16  # at most this many texts per call are looked up in (and added to) the LRU


class OnnxEmbedder:
    """``Embedder`` on ONNX Runtime. Thread-safe: ``embed`` may be called concurrently.

    ``cache_dir`` holds the exported model (created at ``warm_up`` when missing);
    ``cache_size`` bounds the LRU of single-query vectors (0 disables it).
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        cache_dir: Path,
        quantized: bool = False,
        batch_size: int = 64,
        cache_size: int = 2048,
        intra_op_threads: int | None = None,
        passage_max_tokens: int = MAX_POSITIONS,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if intra_op_threads is not None and intra_op_threads < 1:
            raise ValueError(f"intra_op_threads must be >= 1, got {intra_op_threads}")
        self._model_dir = model_dir
        self._cache_dir = Path(cache_dir)
        self._quantized = quantized
        self._batch_size = batch_size
        self._threads = intra_op_threads
        self._passage_max_tokens = checked_passage_window(passage_max_tokens)
        self._cache = QueryCache(cache_size)
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._passage_tokenizer: Any = None
        self._lowercase = False
        self._pad_id = 0
        self.model_file: Path | None = None
        self.export_seconds = 0.0

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def backend(self) -> str:
        return "onnx-int8" if self._quantized else "onnx"

    @property
    def dim(self) -> int:
        return DIM

    @property
    def passage_max_tokens(self) -> int:
        return self._passage_max_tokens

    def cache_info(self) -> CacheInfo:
        return self._cache.cache_info()

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX session, exporting the model first if needed."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            model_dir = self._model_dir or minilm_path()
            tokenizer, lowercase = _load_tokenizer(model_dir)
            passage_tokenizer, _ = _load_tokenizer(model_dir, self._passage_max_tokens)
            session = self._load_session(model_dir)
            self._tokenizer, self._lowercase = tokenizer, lowercase
            self._pad_id = int(tokenizer.padding["pad_id"]) if tokenizer.padding else 0
            # We pad per batch ourselves, after sorting by length.
            tokenizer.no_padding()
            passage_tokenizer.no_padding()
            self._passage_tokenizer = passage_tokenizer
            self._session = session
        # One run pays ONNX Runtime's first-call allocations here, not on a user query.
        self._encode(["warm up"], self._tokenizer)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _checked_texts(texts, "embed")
        if not items:
            return np.zeros((0, DIM), dtype=np.float32)
        self.warm_up()
        if len(items) > _SMALL_BATCH:
            # Large batches are not queries: caching them would only evict queries.
            return self._encode(items, self._tokenizer)
        # Queries and the grounding guard's answer sentences: both repeat across requests
        # (popular questions, the same KPI row quoted again), so look each text up first
        # and encode only the misses, in one batch.
        vectors = np.empty((len(items), DIM), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for position, text in enumerate(items):
            cached = self._cache.get(text)
            if cached is None:
                missing.setdefault(text, []).append(position)
            else:
                vectors[position] = cached
        if missing:
            fresh = self._encode(list(missing), self._tokenizer)
            for row, (text, positions) in zip(fresh, missing.items(), strict=True):
                self._cache.put(text, row)
                vectors[positions] = row
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Index-time embedding: each text truncated at ``passage_max_tokens``, not cached."""
        items = _checked_texts(texts, "embed_passages")
        if not items:
            return np.zeros((0, DIM), dtype=np.float32)
        self.warm_up()
        return self._encode(items, self._passage_tokenizer)

    def cached(self, texts: Sequence[str]) -> np.ndarray | None:
        """The vectors of ``texts`` when every one is in the LRU, else None; never runs
        the model, so it is cheap enough for an event loop. A miss is not counted here:
        the caller's ``embed`` that follows counts it."""
        items = list(texts)
        if not items or len(items) > _SMALL_BATCH or not all(text in self._cache for text in items):
            return None
        vectors = [self._cache.get(text) for text in items]
        if any(vector is None for vector in vectors):  # evicted in between by another thread
            return None
        return np.stack(vectors)  # type: ignore[arg-type]

    def _load_session(self, model_dir: Path) -> Any:
        load_errors = _ort_load_errors()
        result = ensure_exported(model_dir, self._cache_dir, quantized=self._quantized)
        try:
            session = self._open(result.path)
        except load_errors as exc:
            # The checksum matched yet ONNX Runtime refuses the file: export once more
            # (a crash mid-export elsewhere, a changed runtime) before giving up.
            log.warning("ONNX Runtime rejected %s (%s); re-exporting once", result.path, exc)
            result = ensure_exported(
                model_dir, self._cache_dir, quantized=self._quantized, force=True
            )
            try:
                session = self._open(result.path)
            except load_errors as again:
                raise OnnxExportError(
                    f"ONNX Runtime cannot load {result.path} even after re-exporting it: "
                    f"{again}. Delete {self._cache_dir} and retry, or use embedding "
                    "backend 'torch'"
                ) from again
        self.model_file, self.export_seconds = result.path, result.seconds
        return session

    def _open(self, path: Path) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads or default_intra_op_threads()
        # One operator at a time: the graph is a chain, so parallel branches buy nothing.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle workers sleep instead of spinning: on 2 cores a spinning thread steals
        # the CPU the gateway needs, and measured latency was no worse without spin.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Without the arena, memory from a large batch goes back to the OS: RSS after
        # embedding 64 passages of 256 tokens fell from 1.2 GB to ~0.3 GB, with no
        # measurable change in single-query latency.
        options.enable_cpu_mem_arena = False
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [node.name for node in session.get_inputs()]
        width = session.get_outputs()[0].shape[-1]
        if sorted(names) != sorted(INPUT_NAMES) or width != DIM:
            raise OnnxExportError(
                f"{path} has inputs {names} and width {width}; expected {list(INPUT_NAMES)} "
                f"and {DIM}"
            )
        return session

    def _rows_per_run(self, width: int) -> int:
        """Texts per model run when the longest is ``width`` tokens. Attention memory grows
        with rows x width^2, so rows shrink past the query window: a batch of 512-token
        passages takes no more memory than ``batch_size`` texts of 256 tokens."""
        if self._quantized:
            # Dynamic int8 picks one activation scale per tensor, so a text's vector would
            # depend on its batch mates (and their padding); one text per run keeps
            # results independent of batching.
            return 1
        budget = self._batch_size * _QUERY_WINDOW * _QUERY_WINDOW
        return max(1, min(self._batch_size, budget // max(1, width * width)))

    def _encode(self, texts: list[str], tokenizer: Any) -> np.ndarray:
        if self._lowercase:
            texts = [text.lower() for text in texts]
        encodings = tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        # Longest first, as sentence-transformers does, so each batch pads little.
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), DIM), dtype=np.float32)
        start = 0
        while start < len(texts):
            rows = order[start : start + self._rows_per_run(int(lengths[order[start]]))]
            start += len(rows)
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for row, index in enumerate(rows):
                encoding, length = encodings[index], lengths[index]
                ids[row, :length] = encoding.ids
                mask[row, :length] = 1
                types[row, :length] = encoding.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self._session.run([OUTPUT_NAME], feeds)[0]
            out[rows] = mean_pool_normalize(hidden, mask)
        return out


def _checked_texts(texts: Sequence[str], method: str) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{method}() takes a sequence of strings; wrap a single text in a list")
    items = list(texts)
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{position}] is {type(text).__name__}, not str")
    return items


def _load_tokenizer(model_dir: Path, max_length: int | None = None) -> tuple[Any, bool]:
    """The fast tokenizer, truncating at ``max_length`` or else at sentence-transformers'
    window for this model."""
    from tokenizers import Tokenizer

    tokenizer_file = model_dir / "tokenizer.json"
    config_file = model_dir / "sentence_bert_config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        max_seq_length = int(config["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"cannot read {config_file}: {exc}") from exc
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as exc:  # the Rust binding raises bare Exception for I/O and parse errors
        raise ModelUnavailable(f"cannot load the tokenizer {tokenizer_file}: {exc}") from exc
    # tokenizer.json ships with truncation at 128 and fixed padding to 128; the model
    # was trained and is served by sentence-transformers at max_seq_length (256).
    tokenizer.enable_truncation(max_length=max_length or max_seq_length)
    return tokenizer, bool(config.get("do_lower_case", False))
