"""Hashed lexical features of a text: character n-grams and word tokens.

Both are "hashing trick" bag-of-n-grams vectors (as scikit-learn's
HashingVectorizer), L2-normalized so that a long text does not outweigh a short
one. The hash is CRC-32 of the UTF-8 token, not Python's ``hash`` (salted per
process), so a bucket index is the same on every machine.

Character n-grams stay inside words, padded with one space on each side, like
scikit-learn's ``analyzer="char_wb"``.

Word tokens are the words themselves plus a little *shape*: the first word and
first two words of every sentence ("^write", "^now write") and how the text
ends ("$?", "$." or "$w" for a letter). The deepset injections are mostly
commands ("Now write ...", "Say ...") and the benign rows mostly questions or
keyword searches; bare word counts cannot see that, the shape tokens can.
Cross-validation on train.csv chose them (see compare_injection_features.py).
The cost of the cue is evasion: "Write a poem about cats?" scores far lower than
the same command with a full stop, so the shape tokens add recall on the deepset
style of attack without making the classifier any harder to dodge than before.
Counts are sublinear, 1 + log tf (Manning et al., *Introduction to Information
Retrieval*, 6.4.1): a word repeated ten times is more telling than once, but
not ten times more.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterator

import numpy as np

# \w is Unicode-aware: German umlauts and ß stay inside their words.
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?:;\n]+")
# A salt keeps the word "abc" out of the character trigram "abc"'s hash stream.
_WORD_SALT = b"w\x00"


def _l2(counts: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(counts))
    return counts / norm if norm > 0 else counts


def char_ngram_vector(text: str, n_min: int, n_max: int, buckets: int) -> np.ndarray:
    """L2-normalized counts of the within-word character n-grams, n_min <= n <= n_max."""
    counts = np.zeros(buckets, dtype=np.float64)
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for n in range(n_min, n_max + 1):
            if length < n:
                break
            for start in range(length - n + 1):
                counts[zlib.crc32(padded[start : start + n].encode("utf-8")) % buckets] += 1.0
    return _l2(counts)


def word_tokens(text: str, opening_words: int = 2, ending: bool = True) -> Iterator[str]:
    """The text's words; then, per sentence, tokens for its first ``opening_words``
    words (0, 1 or 2); then (``ending``) a token for the text's last character."""
    yield from _WORD.findall(text)
    if opening_words:
        for sentence in _SENTENCE_END.split(text):
            words = _WORD.findall(sentence)
            if words:
                yield f"^{words[0]}"
                if opening_words > 1 and len(words) > 1:
                    yield f"^{words[0]} {words[1]}"
    stripped = text.rstrip()
    if ending and stripped:
        last = stripped[-1]
        yield "$w" if last.isalnum() else f"${last}"


def word_vector(text: str, buckets: int, opening_words: int = 2, ending: bool = True) -> np.ndarray:
    """L2-normalized sublinear counts (1 + log tf) of ``word_tokens(text, ...)``."""
    tf: dict[int, int] = {}
    for token in word_tokens(text, opening_words, ending):
        index = zlib.crc32(_WORD_SALT + token.encode("utf-8")) % buckets
        tf[index] = tf.get(index, 0) + 1
    counts = np.zeros(buckets, dtype=np.float64)
    for index, count in tf.items():
        counts[index] = 1.0 + math.log(count)
    return _l2(counts)
