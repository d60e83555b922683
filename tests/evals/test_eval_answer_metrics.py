from __future__ import annotations

import pytest

from evals.metrics.answer import CitationPrecision, FactRecall, Groundedness, MustNotContain
from evals.testing import chunk, citation, golden_case, make_result

AVAIL = chunk("staff/kpis", "Model availability: the example target is 99.9% monthly for production endpoints.",
              chunk_id="c-avail")
LATENCY = chunk("staff/kpis", "Latency p95: the example target is 200-500 ms for interactive endpoints.",
                chunk_id="c-lat")


def test_fact_recall_counts_facts_with_any_accepted_spelling() -> None:
    case = golden_case(facts=[["99.9%", "99.9 percent"], "200\u2013500 ms", "quarterly"])
    result = make_result("Availability must reach 99.9 PERCENT [1]; latency p95 200-500  ms [2].")
    # Two of three: the en dash in the fact matches the hyphen, case and spaces are ignored.
    assert FactRecall().score(case, result) == pytest.approx(2 / 3)
    assert FactRecall().score(case, make_result("I can't find that.", refused=True)) == 0.0
    assert not FactRecall().applies(golden_case(slice="refusal", must_refuse=True))


def test_citation_precision_over_sentence_marker_pairs() -> None:
    case = golden_case(facts=["99.9%"])
    answer = ("Production endpoints target 99.9% availability. [1] "
              "Interactive endpoints keep p95 latency at 200-500 ms. [2] "
              "Availability is 99.9% monthly [2]. Unrelated claim about budgets [7].")
    result = make_result(answer, retrieved=[AVAIL, LATENCY],
                         citations=[citation(1, AVAIL), citation(2, LATENCY)])
    # Pairs: (s1,[1]) ok, (s2,[2]) ok, (s3,[2]) wrong passage, (s4,[7]) no such citation.
    assert CitationPrecision().score(case, result) == pytest.approx(2 / 4)


def test_citation_precision_prefers_full_chunk_text_over_a_trimmed_quote() -> None:
    case = golden_case(facts=["99.9%"])
    trimmed = citation(1, AVAIL, quote="Model availability: the example")
    result = make_result("Production endpoints target 99.9% availability. [1]",
                         retrieved=[AVAIL], citations=[trimmed])
    assert CitationPrecision().score(case, result) == 1.0
    # Without the chunk among the retrieved ones only the quote is known: unsupported.
    alone = make_result("Production endpoints target 99.9% availability. [1]", citations=[trimmed])
    assert CitationPrecision().score(case, alone) == 0.0


def test_citation_precision_not_scored_without_markers_or_when_blocked() -> None:
    case = golden_case(facts=["x"])
    assert CitationPrecision().score(case, make_result("No markers at all.")) is None
    assert CitationPrecision().score(case, make_result("Blocked [1].", blocked=True)) is None
    assert not CitationPrecision().applies(golden_case(slice="injection", must_block=True))


def test_groundedness_share_of_supported_sentences() -> None:
    case = golden_case(facts=["99.9%"])
    answer = ("Production endpoints target 99.9% availability. [1]\n"
              "Interactive endpoints keep p95 latency at 200-500 ms.\n"
              "The role also requires a PhD in astrophysics.\n"
              "It is.")  # stop words only: not counted
    result = make_result(answer, retrieved=[AVAIL, LATENCY])
    assert Groundedness().score(case, result) == pytest.approx(2 / 3)


def test_groundedness_skips_refusals_and_empty_answers() -> None:
    case = golden_case(facts=["x"])
    assert Groundedness().score(case, make_result("I can't find that.", refused=True)) is None
    assert Groundedness().score(case, make_result("")) is None
    assert not Groundedness().applies(golden_case(slice="refusal", must_refuse=True))


def test_must_not_contain_counts_each_forbidden_string() -> None:
    case = golden_case(slice="leading", facts=["10%"], must_not_contain=["40%", "PhD is required", "DAN:"])
    result = make_result("Leadership weighs 10%, not 40%. A PhD is required? No.")
    assert MustNotContain().score(case, result) == 2.0
    assert MustNotContain().score(case, make_result("Leadership weighs 10%.")) == 0.0
    assert MustNotContain().aggregate == "sum" and not MustNotContain().higher_is_better


def test_a_passage_supports_what_its_heading_says() -> None:
    # "60-day goals: join the on-call rotation" is what the passage under "60-day goals" says;
    # the number of the heading is the passage's, not an invented one.
    goals = chunk("mlops-engineer/60-day-goals", "- Take ownership of one platform component and join the on-call rotation.",
                  chunk_id="c-60")
    case = golden_case(facts=["on-call"])
    answer = "60-day goals: Take ownership of one platform component and join the on-call rotation. [1]"
    result = make_result(answer, retrieved=[goals], citations=[citation(1, goals)])
    assert CitationPrecision().score(case, result) == 1.0
    assert Groundedness().score(case, result) == 1.0
    # Another heading's number is still not supported.
    wrong = make_result(answer.replace("60-day", "90-day"), retrieved=[goals], citations=[citation(1, goals)])
    assert CitationPrecision().score(case, wrong) == 0.0
