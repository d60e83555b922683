"""The BM25 analyzer: text in, index terms out.

Steps: Unicode NFKC, lower-case, drop possessive "'s", tokenize, drop English
stop words, Snowball-stem alphabetic tokens (PyStemmer's "english", i.e. Porter2).

Numbers keep their unit or percent sign, because in blueprints the unit is the
meaning: "99.9%" and "200ms" are targets, "p95" is a percentile, "4xx" a status
class. So "<200ms" gives "200ms", "99.9%+" gives "99.9%", "1,000" gives "1000".
Tokens with digits are never stemmed ("p95" must not lose anything).

The settings that change the output are stored in the index manifest
(``Analyzer.settings``); an index built with different settings is refused,
because queries would be tokenized differently from the documents.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

ANALYZER_VERSION = 1

# A number (with decimals), optionally glued to a percent sign or a unit ("200ms",
# "10k", "4xx", "3x"); or a word starting with a letter that may carry digits ("p95").
_TOKEN = re.compile(r"\d+(?:\.\d+)*(?:%|[^\W\d_]+\d*)?|[^\W\d_][^\W_]*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")

# A standard English stop-word list (articles, pronouns, auxiliaries, conjunctions,
# prepositions). Negations ("not", "no") are dropped too: BM25 ignores word order,
# so a lone "not" cannot change which documents match, only add noise.
ENGLISH_STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "couldn",
        "did",
        "didn",
        "do",
        "does",
        "doesn",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn",
        "has",
        "hasn",
        "have",
        "haven",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "more",
        "most",
        "mustn",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan",
        "she",
        "should",
        "shouldn",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn",
        "we",
        "were",
        "weren",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "won",
        "would",
        "wouldn",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)


class Analyzer:
    """Thread-safe: PyStemmer objects are not, so each thread gets its own stemmer."""

    def __init__(self, *, stem: bool = True, stop_words: bool = True) -> None:
        self._stem = stem
        self._stop_words = ENGLISH_STOP_WORDS if stop_words else frozenset()
        self._local = threading.local()

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "name": "ladder-bm25",
            "version": ANALYZER_VERSION,
            "stemmer": "snowball-english" if self._stem else None,
            "stop_words": "ladder-english" if self._stop_words else None,
            "stop_word_count": len(self._stop_words),
        }

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Analyzer:
        """Rebuild the analyzer an index was built with; ``ValueError`` if this code cannot."""
        analyzer = cls(
            stem=bool(settings.get("stemmer")), stop_words=bool(settings.get("stop_words"))
        )
        if analyzer.settings != settings:
            raise ValueError(
                f"index analyzer settings {settings} differ from what this version produces "
                f"({analyzer.settings})"
            )
        return analyzer

    def _stemmer(self) -> Any:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer  # PyStemmer

            stemmer = self._local.stemmer = Stemmer.Stemmer("english")
        return stemmer

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).lower()
        text = _THOUSANDS.sub("", text)
        text = _POSSESSIVE.sub("", text)
        tokens = [t for t in _TOKEN.findall(text) if t not in self._stop_words]
        if not self._stem:
            return tokens
        words = [i for i, t in enumerate(tokens) if t.isalpha()]
        if words:
            stemmed = self._stemmer().stemWords([tokens[i] for i in words])
            for i, stem in zip(words, stemmed, strict=True):
                tokens[i] = stem
        return tokens

    __call__ = tokenize

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        return [self.tokenize(text) for text in texts]
