"""Usage reports: totals per group, percentiles against numpy, rates, time windows, CLI."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from gateway.cli import usage as usage_cli
from gateway.usage.ledger import Ledger
from gateway.usage.records import UsageRecord
from gateway.usage.reports import parse_when, percentile

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def seed(ledger: Ledger) -> list[UsageRecord]:
    rng = random.Random(7)
    records = []
    for _ in range(400):
        outcome = rng.choice(["ok"] * 6 + ["refused", "blocked", "error"])
        records.append(
            UsageRecord(
                key_id=rng.choice(["alice", "bob", "carol"]),
                route="/v1/chat/completions",
                latency_ms=rng.uniform(5, 900),
                outcome=outcome,  # type: ignore[arg-type]
                model=rng.choice(["gpt-4o-mini", "llama3.1:8b", None]),
                prompt_name=rng.choice(["rag_answer", None]),
                prompt_version=rng.choice(["1", "2"]),
                tokens_in=rng.randint(0, 3000),
                tokens_out=rng.randint(0, 500),
                cost_usd=rng.choice([None, rng.uniform(0, 0.01)]),
                cache_hit=rng.random() < 0.3,
                ts=T0 + timedelta(hours=rng.randint(0, 24 * 4)),
            )
        )
    for record in records:
        ledger.record(record)
    assert ledger.flush()
    return records


def group_of(record: UsageRecord, group_by: str) -> str:
    if group_by == "key":
        return record.key_id
    if group_by == "model":
        return record.model or "(none)"
    if group_by == "prompt_version":
        return record.prompt or "(none)"
    return record.ts.strftime("%Y-%m-%d")


@pytest.mark.parametrize("group_by", ["key", "model", "prompt_version", "day"])
def test_report_matches_totals_computed_by_hand(ledger: Ledger, group_by: str) -> None:
    records = seed(ledger)
    rows = {row.group: row for row in ledger.usage_report(group_by)}
    expected_groups = {group_of(r, group_by) for r in records}
    assert set(rows) == expected_groups
    for name, row in rows.items():
        mine = [r for r in records if group_of(r, group_by) == name]
        latencies = [r.latency_ms for r in mine]
        assert row.requests == len(mine)
        assert row.tokens_in == sum(r.tokens_in for r in mine)
        assert row.tokens_out == sum(r.tokens_out for r in mine)
        assert row.cost_usd == pytest.approx(sum(r.cost_usd or 0 for r in mine))
        assert row.unpriced_requests == sum(r.cost_usd is None for r in mine)
        assert row.p50_latency_ms == pytest.approx(np.percentile(latencies, 50))
        assert row.p95_latency_ms == pytest.approx(np.percentile(latencies, 95))
        assert row.refusal_rate == pytest.approx(
            sum(r.outcome in ("refused", "blocked") for r in mine) / len(mine)
        )
        assert row.error_rate == pytest.approx(sum(r.outcome == "error" for r in mine) / len(mine))
        assert row.cache_hit_rate == pytest.approx(sum(r.cache_hit for r in mine) / len(mine))


def test_window_and_key_filters(ledger: Ledger) -> None:
    records = seed(ledger)
    since, until = T0 + timedelta(days=1), T0 + timedelta(days=2)
    rows = ledger.usage_report("key", since, until, key_id="bob")
    expected = [r for r in records if r.key_id == "bob" and since <= r.ts < until]
    assert [row.group for row in rows] == ["bob"]
    assert rows[0].requests == len(expected)


def test_unknown_group_by_is_rejected(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="group_by"):
        ledger.usage_report("week")  # type: ignore[arg-type]


@pytest.mark.parametrize("q", [0, 5, 50, 95, 99, 100])
@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_percentile_equals_numpy(q: float, n: int) -> None:
    values = sorted(random.Random(n).uniform(0, 1000) for _ in range(n))
    assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_parse_when() -> None:
    now = datetime(2025, 6, 10, 15, 30, tzinfo=UTC)
    assert parse_when("2025-06-01", now) == datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_when("2025-06-01T08:00:00+02:00", now) == datetime(2025, 6, 1, 6, tzinfo=UTC)
    assert parse_when("7d", now) == now - timedelta(days=7)
    assert parse_when("24h", now) == now - timedelta(hours=24)
    assert parse_when("today", now) == datetime(2025, 6, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot read"):
        parse_when("last tuesday", now)


def cli_app() -> typer.Typer:
    app = typer.Typer()
    usage_cli.register(app)
    app.command("noop")(lambda: None)  # a second command keeps `usage` a named sub-command
    return app


def test_cli_usage_json_and_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path))
    from gateway.settings import Settings

    ledger = Ledger(Settings().ledger_path)
    ledger.start()
    records = seed(ledger)
    ledger.close()
    runner = CliRunner()
    result = runner.invoke(cli_app(), ["usage", "--group-by", "model", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sum(row["requests"] for row in rows) == len(records)
    table = runner.invoke(cli_app(), ["usage", "--since", "2025-05-02", "--until", "2025-05-03"])
    assert table.exit_code == 0 and "alice" in table.stdout and "usage by key" in table.stdout
    bad = runner.invoke(cli_app(), ["usage", "--group-by", "week"])
    assert bad.exit_code == 2


def test_cli_usage_without_a_ledger_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli_app(), ["usage"])
    assert result.exit_code == 0 and "no usage recorded" in result.stdout
    assert not (tmp_path / "ladder.db").exists()
