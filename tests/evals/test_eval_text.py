from __future__ import annotations

from evals.metrics.text import SupportChecker, contains_phrase, normalize, split_sentences


def test_normalize_lowercases_unifies_dashes_strips_markers_and_spaces() -> None:
    assert normalize("Latency  p95 \u2264 200\u2013500 ms [2].\n Next [1, 3]") == "latency p95 ≤ 200-500 ms . next"
    assert normalize("8\u201412+ years") == "8-12+ years"
    assert normalize("ＡＢＣ") == "abc"  # NFKC folds full-width letters


def test_contains_phrase_respects_digit_boundaries_but_not_word_endings() -> None:
    text = normalize("Availability 99.95% and error rate 15%; SLOs are reviewed.")
    assert not contains_phrase(text, "99.9")
    assert not contains_phrase(text, "5%")
    assert contains_phrase(text, "15%")
    assert contains_phrase(text, "SLO")  # "SLOs" states the fact too
    assert contains_phrase(normalize("targets 10\u201315%"), "10-15%")
    assert not contains_phrase(text, "")
    # A later occurrence counts when the first is glued to other digits.
    assert contains_phrase(normalize("199 and 99 items"), "99")


def test_split_sentences_attaches_markers_written_after_the_full_stop() -> None:
    answer = ("Availability target is 99.9%. [1] Latency p95 is 200-500ms [2].\n"
              "- **Cost:** reduce spend by 10% [1][3]\n"
              "No citation here.")
    sentences = split_sentences(answer)
    assert [s.text for s in sentences] == [
        "Availability target is 99.9%.", "Latency p95 is 200-500ms.", "Cost: reduce spend by 10%",
        "No citation here.",
    ]
    assert [s.markers for s in sentences] == [(1,), (2,), (1, 3), ()]


def test_split_sentences_keeps_decimals_and_handles_comma_markers() -> None:
    sentences = split_sentences("Target is 99.9 percent [1, 2]. Second one.")
    assert [s.markers for s in sentences] == [(1, 2), ()]
    assert sentences[0].text == "Target is 99.9 percent."


def test_support_needs_half_the_content_words_and_every_number() -> None:
    checker = SupportChecker()
    passage = "Model availability: the example target is 99.9% monthly for production endpoints."
    assert checker.supports("Production endpoints target 99.9% availability.", passage)
    # The number differs: never supported, however many words match.
    assert not checker.supports("Production endpoints target 99.5% availability.", passage)
    # Units glued or apart agree ("200ms" vs "200 ms").
    assert checker.supports("p95 latency under 200ms", "Latency p95 must stay under 200 ms.")
    # Too few content words present (1 of 4: "team").
    assert not checker.supports("The team celebrates birthdays quarterly offsite.", "The team ships.")
    # Exactly half (2 of 4) is enough.
    assert checker.coverage("alpha beta gamma delta", "alpha beta") == 0.5
    assert checker.supports("alpha beta gamma delta", "alpha beta")
    # A sentence of stop words only has nothing to support.
    assert not checker.has_content("It is what it is.")
    assert not checker.supports("It is what it is.", "It is.")
