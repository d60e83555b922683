"""Small text helpers for the output guards: sentences, content words, numbers, n-grams."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

# English function words; a sentence's *content* words are what must be found in a source.
STOPWORDS = frozenset(
    """
    a an the and or but if then than so of in on at to for from by with as into onto over
    under about above below between through during before after again further once here
    there when where why how all any both each few more most other some such no nor not only
    own same too very can will just should would could may might must shall do does did
    doing done be is are was were been being have has had having i me my we our you your he
    him his she her it its they them their this that these those what which who whom whose
    am also etc e.g i.e eg ie per via s t don't isn't aren't it's there's let's one ones get
    got make makes made use used using according says said based typically usually often
    generally include includes including
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_WORD = re.compile(r"[a-zà-ÿ][a-zà-ÿ0-9'+#-]*")
# Numbers as written in blueprints: 99.9, 1,000, 30/60/90 (three numbers), 15%, p95.
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\d])")
_ABBREVIATIONS = re.compile(
    r"\b(?:e\.g|i\.e|etc|vs|mr|mrs|ms|dr|prof|approx|incl|no|fig)\.$", re.IGNORECASE
)
# End punctuation, closing quotes/brackets, then any citation markers: "... teams. [2] Next"
# keeps "[2]" with the sentence it cites.
_SENTENCE_END = re.compile(
    r"[.!?][\"”’')]*(?:[ \t]*\[[^\[\]\n]{1,40}\])*(?P<gap>[ \t]+)(?=[\"“‘'(*_A-Z0-9-])"
)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int
    paragraph: int


@cache
def _stemmer() -> Any:
    import Stemmer  # PyStemmer: the Snowball English stemmer, also used by retrieval's BM25

    return Stemmer.Stemmer("english")


def content_words(text: str) -> list[str]:
    words = [w.strip("'-") for w in _WORD.findall(text.lower())]
    kept = [w for w in words if w and w not in STOPWORDS and len(w) > 1]
    return list(_stemmer().stemWords(kept))


def numbers(text: str) -> set[str]:
    """Numbers in canonical form: thousands separators dropped, trailing zeros kept as written."""
    found = set()
    for match in _NUMBER.finditer(text):
        value = match.group(0)
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", value):
            value = value.replace(",", "")
        found.add(value)
    return found


# Source passages come from a fixed index and recur across requests; their analyzed
# forms were recomputed for every answer sentence and every guard (content words,
# numbers and n-grams of chunk text: ~4% of the server's GIL time under load, py-spy).
# Frozen, so no caller can change a cached value. Keys hold the passage text: 4,096
# passages of ~1 KB bound the memory.
_SOURCE_CACHE = 4096


@lru_cache(maxsize=_SOURCE_CACHE)
def source_words(text: str) -> frozenset[str]:
    """``content_words`` of a source passage, as a set, memoized."""
    return frozenset(content_words(text))


@lru_cache(maxsize=_SOURCE_CACHE)
def source_numbers(text: str) -> frozenset[str]:
    """``numbers`` of a source passage, memoized."""
    return frozenset(numbers(text))


@lru_cache(maxsize=_SOURCE_CACHE)
def source_ngrams(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """``word_ngrams`` of a source passage, memoized."""
    return frozenset(word_ngrams(text, n))


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with their character spans. Each line of a list or table is its own unit."""
    sentences: list[Sentence] = []
    paragraph = 0
    offset = 0
    for line in text.split("\n"):
        if not line.strip():
            paragraph += 1
            offset += len(line) + 1
            continue
        if re.match(r"\s*(?:[-*+]|\d+[.)]|#+)\s", line):
            paragraph += 1  # a list item or heading starts its own block
        cursor = 0
        pieces = []
        for match in _SENTENCE_END.finditer(line):
            if _ABBREVIATIONS.search(line[cursor : match.start() + 1]):
                continue
            pieces.append((cursor, match.start("gap")))
            cursor = match.end()
        pieces.append((cursor, len(line)))
        for start, end in pieces:
            chunk = line[start:end]
            if chunk.strip():
                lead = len(chunk) - len(chunk.lstrip())
                sentences.append(
                    Sentence(
                        chunk.strip(),
                        offset + start + lead,
                        offset + start + lead + len(chunk.strip()),
                        paragraph,
                    )
                )
        offset += len(line) + 1
    return sentences


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def keep_sentences(text: str, kept: list[Sentence]) -> str:
    """``text`` with only the ``kept`` sentences (from ``split_sentences(text)``), line
    structure and list/heading prefixes preserved, emptied lines dropped."""
    starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
    by_line: dict[int, list[str]] = {}
    for sentence in kept:
        line = max(number for number, start in enumerate(starts) if start <= sentence.start)
        by_line.setdefault(line, []).append(sentence.text)
    out = []
    for number, raw in enumerate(text.split("\n")):
        if number in by_line:
            body = " ".join(by_line[number])
            prefix = re.match(r"\s*(?:[-*+]|\d+[.)]|#+)\s+", raw)
            if prefix and not body.startswith(prefix.group(0).strip()):
                body = prefix.group(0) + body
            out.append(body)
        elif not raw.strip():
            out.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
