from __future__ import annotations

import pytest

from retrieval.analyzer import Analyzer


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("99.9%+ (context-specific)", ["99.9%", "context", "specif"]),
        ("p95 < 200ms", ["p95", "200ms"]),
        ("<200ms", ["200ms"]),
        ("4xx/5xx rates", ["4xx", "5xx", "rate"]),
        ("1,000 requests", ["1000", "request"]),
        ("The organization's engineers", ["organiz", "engin"]),
        ("Running the Experiments", ["run", "experi"]),
    ],
)
def test_tokens(analyzer: Analyzer, text: str, expected: list[str]) -> None:
    assert analyzer(text) == expected


def test_numbers_are_not_stemmed(analyzer: Analyzer) -> None:
    assert analyzer("p50s 10ms") == ["p50s", "10ms"]


def test_unicode_is_normalized(analyzer: Analyzer) -> None:
    # NFKC folds the full-width digits and the ligature.
    assert analyzer("ｐ９５ ﬁle") == analyzer("p95 file")


def test_settings_round_trip() -> None:
    analyzer = Analyzer()
    assert Analyzer.from_settings(analyzer.settings).settings == analyzer.settings
    with pytest.raises(ValueError):
        Analyzer.from_settings({**analyzer.settings, "version": 999})


def test_without_stemming_or_stop_words() -> None:
    assert Analyzer(stem=False, stop_words=False)("The runners") == ["the", "runners"]
