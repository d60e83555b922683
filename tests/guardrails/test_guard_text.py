"""The memoized source-passage helpers give what the plain helpers give, and stay frozen."""

from __future__ import annotations

from guardrails.text import (
    content_words,
    numbers,
    source_ngrams,
    source_numbers,
    source_words,
    word_ngrams,
)

PASSAGE = "Inference availability stays at 99.9% or better; p95 latency under 200 ms, reviewed weekly."


def test_source_helpers_match_the_plain_ones() -> None:
    assert source_words(PASSAGE) == frozenset(content_words(PASSAGE))
    assert source_numbers(PASSAGE) == frozenset(numbers(PASSAGE)) == {"99.9", "200"}
    assert source_ngrams(PASSAGE, 3) == frozenset(word_ngrams(PASSAGE, 3))
    assert ("availability", "stays", "at") in source_ngrams(PASSAGE, 3)


def test_cached_values_cannot_be_changed_by_a_caller() -> None:
    first = source_ngrams(PASSAGE, 2)
    protected = word_ngrams("inference availability stays", 2)
    protected -= first  # what the leak guard does: the cached set must not change
    assert source_ngrams(PASSAGE, 2) is first and ("inference", "availability") in first
    assert isinstance(source_words(PASSAGE), frozenset)
