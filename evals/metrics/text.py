"""Text helpers shared by the answer and safety metrics: normalization, sentences, support.

Normalization (fact matching, ``must_not_contain``): Unicode NFKC, citation
markers removed, every Unicode dash turned into '-', lower-case, runs of
whitespace collapsed to one space.

Support (citation precision, groundedness): a sentence is supported by a
passage when at least half of the sentence's distinct content words are in the
passage and every number in the sentence is in the passage too. Content words
are the BM25 analyzer's terms (stop words dropped, Snowball-stemmed, numbers
kept with their unit), so "deploys" in the answer matches "deployment"'s stem
only where the stemmer agrees; numbers compare by their digits ("99.9%" and
"99.9 percent" agree, "99.9%" and "99.5%" do not). Half is deliberately lenient
on wording - an LLM paraphrases - while strict on numbers, the facts a
blueprint reader acts on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from retrieval.analyzer import Analyzer

SUPPORT_THRESHOLD = 0.5

# "[3]", "[1, 2]" and "[1][2]" (the last is two markers).
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Hyphen-like characters: hyphen, non-breaking hyphen, figure dash, en, em, horizontal bar,
# minus sign, small/full-width hyphen-minus.
_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d]")
_SPACE = re.compile(r"\s+")
# A sentence ends at . ! or ? (plus any citation markers glued after it) followed by
# whitespace and a capital, digit or opening bracket/quote, or by the end of the text.
_SENTENCE_END = re.compile(r"[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s+[A-Z0-9(\"“]|\s*$)")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.!?,;:])")


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = strip_markers(text)
    text = _DASHES.sub("-", text)
    return _SPACE.sub(" ", text.lower()).strip()


def contains_phrase(normalized_text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in already-normalized text.

    Plain substring matching, except that a phrase starting or ending with a digit
    must not be glued to more digits: "99.9" is not found in "99.95", nor "5" in
    "15". Words may be extended ("SLO" is found in "SLOs"): golden facts are
    written as phrases, and plural or inflected forms state the same fact.
    """
    needle = normalize(phrase)
    if not needle:
        return False
    start = normalized_text.find(needle)
    while start != -1:
        end = start + len(needle)
        before = normalized_text[start - 1] if start > 0 else ""
        after = normalized_text[end:end + 2]
        glued_before = needle[0].isdigit() and (before.isdigit() or before == ".")
        glued_after = needle[-1].isdigit() and (
            after[:1].isdigit() or (after[:1] in {".", ","} and after[1:2].isdigit())
        )
        if not glued_before and not glued_after:
            return True
        start = normalized_text.find(needle, start + 1)
    return False


@dataclass(frozen=True)
class Sentence:
    text: str  # without citation markers
    markers: tuple[int, ...]  # the [n] markers it carries, in order, without duplicates


def split_sentences(answer: str) -> list[Sentence]:
    """Answer text → sentences, each with the citation markers attached to it.

    Lines are split first (list items are sentences of their own, bullets removed),
    then each line at sentence ends; a marker written after the full stop
    ("... 99.9%. [2]") belongs to the sentence before it.
    """
    sentences: list[Sentence] = []
    for line in answer.splitlines():
        line = _BULLET.sub("", line).replace("**", "").strip()
        if not line:
            continue
        start = 0
        pieces = []
        for match in _SENTENCE_END.finditer(line):
            pieces.append(line[start:match.end()])
            start = match.end()
        pieces.append(line[start:])
        for piece in pieces:
            markers: list[int] = []
            for group in _MARKER.findall(piece):
                for number in group.split(","):
                    if int(number) not in markers:
                        markers.append(int(number))
            text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACE.sub(" ", strip_markers(piece))).strip()
            if text:
                sentences.append(Sentence(text=text, markers=tuple(markers)))
    return sentences


@cache
def _analyzer() -> Analyzer:
    return Analyzer()


def _terms(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(content terms, number cores) of a text; numbers compare by their digits only."""
    terms: set[str] = set()
    numbers: set[str] = set()
    for token in _analyzer().tokenize(text):
        found = _NUMBER.findall(token)
        if found:
            numbers.update(found)
            terms.update(found)
            rest = _NUMBER.sub("", token)
            if rest.isalpha() and len(rest) > 1:
                terms.add(rest)  # the unit: "200ms" → "200" and "ms"
        else:
            terms.add(token)
    return frozenset(terms), frozenset(numbers)


class SupportChecker:
    """Decides whether a passage supports a sentence; caches each text's terms."""

    def __init__(self, threshold: float = SUPPORT_THRESHOLD) -> None:
        self.threshold = threshold
        self._cache: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def terms(self, text: str) -> tuple[frozenset[str], frozenset[str]]:
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = _terms(text)
        return found

    def has_content(self, sentence: str) -> bool:
        return bool(self.terms(sentence)[0])

    def coverage(self, sentence: str, passage: str) -> float:
        words, _ = self.terms(sentence)
        if not words:
            return 0.0
        return len(words & self.terms(passage)[0]) / len(words)

    def supports(self, sentence: str, passage: str) -> bool:
        words, numbers = self.terms(sentence)
        if not words:
            return False
        passage_words, passage_numbers = self.terms(passage)
        if not numbers <= passage_numbers:
            return False
        return len(words & passage_words) / len(words) >= self.threshold
