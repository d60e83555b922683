"""The injection classifier's feature vector; one function used by training and serving.

Blocks, in order, each with unit L2 norm so that none outweighs another by scale:
1. the MiniLM sentence embedding of the message (384 floats);
2. hashed character n-grams (3-5, within words) of the normalized text. They
   carry what a 384-d English embedding blurs: German wording, typos, fixed
   phrases ("act as", "vergiss alles");
3. hashed words plus sentence shape (opening words, final punctuation),
   sublinear tf; see lexical.py.

Cross-validation on train.csv chose this set among 15 candidates
(compare_injection_features.py; table in bench/results/guardrails.md): the
shape tokens added ~0.02 F1; weighting the embedding or the word block x0.5 or
x2 lost; and version 1's per-family rule weights, as a fourth block, lost too
(0.954 with them, 0.960 without). Rules still decide on their own through the
strong-rule override (rules.py, ``combined_score``), which is unchanged.

``FEATURE_VERSION`` changes whenever this vector changes, so a model file
trained on another version is refused at load instead of scoring garbage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from guardrails.injection.lexical import char_ngram_vector, word_vector

# 1: embedding | char 3-5 (4096) | rule families. 2: words and shape in, rule families out.
FEATURE_VERSION = 2
EMBEDDING_DIM = 384
NGRAM_MIN = 3
NGRAM_MAX = 5
CHAR_BUCKETS = 4096
WORD_BUCKETS = 4096
OPENING_WORDS = 2  # per sentence, "^now" and "^now write"; see lexical.word_tokens
# Longer texts are cut for the lexical blocks only (rules scan everything): it
# bounds their cost at ~2 ms, and injections in the deepset data sit well within it.
MAX_LEXICAL_CHARS = 3000


def default_spec(embedder_name: str) -> dict[str, Any]:
    return {
        "version": FEATURE_VERSION,
        "embedding": {"dim": EMBEDDING_DIM, "embedder": embedder_name},
        "text": "normalize.scan_views().views['clean']",
        "max_chars": MAX_LEXICAL_CHARS,
        "char_ngrams": {
            "n_min": NGRAM_MIN,
            "n_max": NGRAM_MAX,
            "buckets": CHAR_BUCKETS,
            "hash": "crc32",
        },
        "words": {
            "buckets": WORD_BUCKETS,
            "hash": "crc32",
            "tf": "1+log",
            "opening_words": OPENING_WORDS,
            "ending": True,
        },
        "dim": EMBEDDING_DIM + CHAR_BUCKETS + WORD_BUCKETS,
    }


def lexical_blocks(clean_view: str) -> np.ndarray:
    """Blocks 2 and 3 (text only, no embedding): the char n-gram and word vectors."""
    text = clean_view[:MAX_LEXICAL_CHARS]
    return np.concatenate(
        [
            char_ngram_vector(text, NGRAM_MIN, NGRAM_MAX, CHAR_BUCKETS),
            word_vector(text, WORD_BUCKETS, opening_words=OPENING_WORDS, ending=True),
        ]
    )


def feature_vector(embedding: np.ndarray, clean_view: str) -> np.ndarray:
    embedding = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if embedding.shape[0] != EMBEDDING_DIM:
        raise ValueError(f"embedding has {embedding.shape[0]} dims, expected {EMBEDDING_DIM}")
    return np.concatenate([embedding, lexical_blocks(clean_view)])


def check_spec(spec: dict[str, Any]) -> str | None:
    """None if a model file's spec matches this code, else what differs."""
    version = spec.get("version")
    if version != FEATURE_VERSION:
        # Files written before versioning have no "version": they are version 1.
        return (
            f"model file was trained on injection features version {version or 1}, "
            f"this code computes version {FEATURE_VERSION}"
        )
    expected = default_spec(str(spec.get("embedding", {}).get("embedder", "")))
    for key, value in expected.items():
        if key != "embedding" and spec.get(key) != value:
            return f"feature_spec.{key} is {spec.get(key)!r}, this code computes {value!r}"
    if spec.get("embedding", {}).get("dim") != EMBEDDING_DIM:
        return "feature_spec.embedding.dim does not match"
    return None
