"""Price lookup: the shipped file, dated changes, patterns, unknown models, validation."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.settings import Settings
from gateway.usage.errors import PricingError
from gateway.usage.pricing import PriceTable


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load(Settings().providers.pricing_file)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pricing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_prices_openai_models_and_local_ones_at_zero(table: PriceTable) -> None:
    day = date(2025, 9, 1)
    assert table.cost("gpt-4o-mini", 1_000_000, 1_000_000, at=day) == pytest.approx(0.15 + 0.60)
    assert table.cost("gpt-4.1", 2_000, 500, at=day) == pytest.approx(
        (2_000 * 2.0 + 500 * 8.0) / 1e6
    )
    assert table.cost("ladder-extractive", 5_000, 800, at=day) == 0.0
    assert table.cost("llama3.1:8b", 5_000, 800, provider="ollama", at=day) == 0.0
    assert table.cost("Qwen/Qwen2.5-7B-Instruct", 10, 10, provider="vllm", at=day) == 0.0
    assert table.cost("ollama/mistral:7b", 10, 10, at=day) == 0.0


def test_dated_price_change_applies_from_its_day(table: PriceTable) -> None:
    before = table.price_for("gpt-4o", at=date(2024, 10, 1))
    after = table.price_for("gpt-4o", at=datetime(2024, 10, 2, 0, 0, tzinfo=UTC))
    assert before is not None and after is not None
    assert (before.input_per_mtok, before.output_per_mtok) == (5.0, 15.0)
    assert (after.input_per_mtok, after.output_per_mtok) == (2.5, 10.0)
    assert table.cost("o3", 1_000_000, 0, at=date(2025, 6, 9)) == pytest.approx(10.0)
    assert table.cost("o3", 1_000_000, 0, at=date(2025, 6, 10)) == pytest.approx(2.0)


def test_aware_times_are_converted_to_utc_days(table: PriceTable) -> None:
    from datetime import timedelta, timezone

    # 23:30 on Oct 1 in UTC-2 is already Oct 2 in UTC: the new price.
    local = datetime(2024, 10, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert table.price_for("gpt-4o", at=local).input_per_mtok == 2.5  # type: ignore[union-attr]


def test_alias_shares_its_models_prices(table: PriceTable) -> None:
    day = date(2025, 1, 1)
    assert table.price_for("gpt-4o-mini-2024-07-18", at=day) == table.price_for(
        "gpt-4o-mini", at=day
    )


def test_unknown_model_costs_none_and_warns_once(
    table: PriceTable, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.usage.pricing"):
        assert table.cost("mystery-model-x", 100, 100) is None
        assert table.cost("mystery-model-x", 5, 5) is None
    warnings = [r for r in caplog.records if "mystery-model-x" in r.getMessage()]
    assert len(warnings) == 1


def test_before_the_first_price_is_unknown(table: PriceTable) -> None:
    assert table.cost("gpt-4.1", 10, 10, at=date(2025, 4, 13)) is None


def test_most_specific_pattern_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
models:
  "ollama/*":
    prices: [{effective: 2024-01-01, input_per_mtok: 0, output_per_mtok: 0}]
  "ollama/llama3*":
    prices: [{effective: 2024-01-01, input_per_mtok: 1, output_per_mtok: 1}]
""",
    )
    prices = PriceTable.load(path)
    assert prices.cost("llama3.1:8b", 1_000_000, 0, provider="ollama") == 1.0
    assert prices.cost("qwen2.5:7b", 1_000_000, 0, provider="ollama") == 0.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "models: {m: {prices: [{effective: 2024-01-01, input_per_mtok: 1, output_per_mtok: 1, "
            "discount: 2}]}}",
            "discount",
        ),
        (
            "models: {m: {prices: [{effective: 2024-01-01, input_per_mtok: -1, "
            "output_per_mtok: 1}]}}",
            "input_per_mtok",
        ),
        (
            "models: {m: {prices: [{effective: 2025-01-01, input_per_mtok: 1, output_per_mtok: 1}, "
            "{effective: 2024-01-01, input_per_mtok: 2, output_per_mtok: 2}]}}",
            "oldest first",
        ),
        ("models: {m: {prices: []}}", "prices"),
        (
            "models: {a: {aliases: [x], prices: [{effective: 2024-01-01, input_per_mtok: 1, "
            "output_per_mtok: 1}]}, b: {aliases: [x], prices: [{effective: 2024-01-01, "
            "input_per_mtok: 1, output_per_mtok: 1}]}}",
            "alias",
        ),
        ("currency: EUR\nmodels: {}", "currency"),
        ("models: [unclosed", "not valid YAML"),
    ],
)
def test_invalid_files_fail_at_load_with_a_clear_message(
    tmp_path: Path, text: str, fragment: str
) -> None:
    with pytest.raises(PricingError, match=fragment):
        PriceTable.load(write(tmp_path, text))


def test_missing_file_is_a_pricing_error(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="cannot read"):
        PriceTable.load(tmp_path / "absent.yaml")
