"""The injection classifier's feature vector; one function used by training and serving.

Features, in order:
1. the MiniLM sentence embedding of the message (384 floats, L2-normalized);
2. hashed character n-grams (3-5, within words, like scikit-learn's ``char_wb``)
   of the normalized text, L2-normalized. They carry what a 384-d English
   embedding blurs: German wording, typos, fixed phrases ("act as",
   "vergiss alles");
3. per rule family, the weight of the strongest rule hit (see rules.py).

The hash is CRC-32 of the UTF-8 n-gram (not Python's ``hash``, which is
salted per process), so a bucket index is the same on every machine.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from guardrails.injection.rules import FAMILIES, RuleHit, family_features

EMBEDDING_DIM = 384
NGRAM_MIN = 3
NGRAM_MAX = 5
BUCKETS = 4096
# Longer texts are cut for the n-gram block only (rules scan everything): it
# bounds the cost at ~2 ms, and injections in the deepset data sit well within it.
MAX_NGRAM_CHARS = 3000


def default_spec(embedder_name: str) -> dict[str, Any]:
    return {
        "embedding": {"dim": EMBEDDING_DIM, "embedder": embedder_name},
        "char_ngrams": {
            "n_min": NGRAM_MIN,
            "n_max": NGRAM_MAX,
            "buckets": BUCKETS,
            "hash": "crc32",
            "text": "normalize.scan_views().views['clean']",
            "max_chars": MAX_NGRAM_CHARS,
        },
        "rule_families": list(FAMILIES),
        "dim": EMBEDDING_DIM + BUCKETS + len(FAMILIES),
    }


def char_ngram_vector(text: str, buckets: int = BUCKETS) -> np.ndarray:
    counts = np.zeros(buckets, dtype=np.float64)
    for word in text[:MAX_NGRAM_CHARS].split():
        padded = f" {word} "
        length = len(padded)
        for n in range(NGRAM_MIN, NGRAM_MAX + 1):
            if length < n:
                break
            for start in range(length - n + 1):
                counts[zlib.crc32(padded[start : start + n].encode("utf-8")) % buckets] += 1.0
    norm = float(np.linalg.norm(counts))
    return counts / norm if norm > 0 else counts


def feature_vector(embedding: np.ndarray, clean_view: str, hits: list[RuleHit]) -> np.ndarray:
    embedding = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if embedding.shape[0] != EMBEDDING_DIM:
        raise ValueError(f"embedding has {embedding.shape[0]} dims, expected {EMBEDDING_DIM}")
    return np.concatenate(
        [embedding, char_ngram_vector(clean_view), np.asarray(family_features(hits))]
    )


def check_spec(spec: dict[str, Any]) -> str | None:
    """None if a model file's spec matches this code, else what differs."""
    expected = default_spec(str(spec.get("embedding", {}).get("embedder", "")))
    for key in ("char_ngrams", "rule_families", "dim"):
        if spec.get(key) != expected[key]:
            return f"feature_spec.{key} is {spec.get(key)!r}, this code computes {expected[key]!r}"
    if spec.get("embedding", {}).get("dim") != EMBEDDING_DIM:
        return "feature_spec.embedding.dim does not match"
    return None
