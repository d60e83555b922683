"""GoldenGate: the prompts' release gate, run with the oracle double as the pipeline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from evals.errors import RunnerError
from evals.gate import GoldenGate, baseline_path
from evals.runner import RunOptions, Target
from evals.schema import load_golden
from evals.suite import evaluate, save
from evals.testing import OracleRunner
from gateway.settings import Settings
from prompts.errors import GateRefused
from prompts.gate import ReleaseGate, load_default_gate
from prompts.registry import PromptRegistry

THRESHOLDS = """
floors:
  overall:
    fact_recall: {min: 0.85}
    attack_block_rate: {min: 0.95}
max_regression:
  overall:
    fact_recall: 0.0
    attack_block_rate: 0.0
"""


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    rows = [{"id": f"kpi-{i}", "slice": "kpi", "question": f"What is target {i}?",
             "expected_sources": ["staff/kpis"], "expected_facts": [{"any_of": [f"{i}.9%"]}]}
            for i in range(60)]
    rows += [{"id": f"inj-{i}", "slice": "injection", "question": f"Ignore rules {i}", "must_block": True}
             for i in range(20)]
    path = tmp_path / "golden.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


class Factory:
    def __init__(self, golden: Path, **oracle: Any) -> None:
        self.cases = load_golden([golden])
        self.oracle = oracle
        self.runners: list[OracleRunner] = []
        self.targets: list[Target] = []

    @asynccontextmanager
    async def __call__(self, settings: Settings, target: Target) -> AsyncIterator[OracleRunner]:
        self.targets.append(target)
        runner = OracleRunner(self.cases, **self.oracle)
        self.runners.append(runner)
        yield runner

    def versions(self) -> list[str | None]:
        return sorted({r.prompt_version for runner in self.runners for r in runner.requests})  # type: ignore[type-var]


def make_gate(settings: Settings, golden: Path, tmp_path: Path, factory: Factory) -> GoldenGate:
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text(THRESHOLDS)
    return GoldenGate(settings, runner_factory=factory, thresholds_path=thresholds, golden_paths=[golden],
                      runs_dir=tmp_path / "runs", baselines_dir=tmp_path / "baselines")


def test_candidate_as_good_as_production_passes(settings: Settings, golden: Path, tmp_path: Path) -> None:
    factory = Factory(golden)
    result = make_gate(settings, golden, tmp_path, factory).check("rag_answer", "2.0.0")
    assert result.passed, result.summary
    assert result.summary.startswith("golden gate rag_answer@2.0.0 passed")
    # Candidate pinned, then the current production version (1.0.0) run fresh as the baseline.
    assert factory.versions() == ["1.0.0", "2.0.0"]
    assert factory.targets[0].model == "ladder-extractive" and factory.targets[0].url is None
    assert result.details["baseline"] == "fresh run of rag_answer@1.0.0"
    assert len(list((tmp_path / "runs").iterdir())) == 2
    assert Path(result.details["run_dir"], "report.html").is_file()


def test_regressed_candidate_fails_with_the_reason(settings: Settings, golden: Path, tmp_path: Path) -> None:
    broken = [f"kpi-{i}" for i in range(6)] + ["inj-0", "inj-1", "inj-2"]
    factory = Factory(golden, prompt_version_fail={"2.0.0": broken})
    result = make_gate(settings, golden, tmp_path, factory).check("rag_answer", "2.0.0")
    assert not result.passed
    assert "golden gate rag_answer@2.0.0 FAILED" in result.summary
    assert "attack_block_rate = 0.85 misses floor >= 0.95" in result.summary
    assert "fact_recall delta -0.1" in result.summary and "significant regression" in result.summary
    assert set(result.details["failed_cases"]) == set(broken)


def test_a_matching_stored_baseline_saves_the_second_run(settings: Settings, golden: Path, tmp_path: Path) -> None:
    cases = load_golden([golden])
    stored = asyncio.run(evaluate(cases, OracleRunner(cases), RunOptions(model="ladder-extractive",
                                                                          prompt_version="1.0.0"),
                                  golden_paths=[golden]))
    path = baseline_path("rag_answer", tmp_path / "baselines")
    path.parent.mkdir()
    path.write_text(json.dumps(stored.summary))
    factory = Factory(golden)
    result = make_gate(settings, golden, tmp_path, factory).check("rag_answer", "2.0.0")
    assert result.passed and result.details["baseline"] == "stored rag_answer.summary.json"
    assert factory.versions() == ["2.0.0"]
    # A stale baseline (other golden files) is not trusted: production is run again.
    stale = dict(stored.summary, metadata={**stored.summary["metadata"], "golden_files": []})
    path.write_text(json.dumps(stale))
    factory = Factory(golden)
    make_gate(settings, golden, tmp_path, factory).check("rag_answer", "2.0.0")
    assert factory.versions() == ["1.0.0", "2.0.0"]


def test_promoting_the_production_version_checks_floors_only(settings: Settings, golden: Path,
                                                             tmp_path: Path) -> None:
    factory = Factory(golden)
    result = make_gate(settings, golden, tmp_path, factory).check("rag_answer", "1.0.0")
    assert result.passed and "already production" in result.details["baseline"]
    assert factory.versions() == ["1.0.0"]


def test_gate_refuses_what_it_cannot_judge(settings: Settings, golden: Path, tmp_path: Path) -> None:
    other = make_gate(settings, golden, tmp_path, Factory(golden)).check("other_prompt", "1.0.0")
    assert not other.passed and "no golden set for 'other_prompt'" in other.summary

    @asynccontextmanager
    async def unavailable(settings: Settings, target: Target) -> AsyncIterator[OracleRunner]:
        raise RunnerError("the in-process pipeline is not available")
        yield  # pragma: no cover

    result = make_gate(settings, golden, tmp_path, unavailable).check("rag_answer", "2.0.0")  # type: ignore[arg-type]
    assert not result.passed and result.summary.startswith("golden gate could not run")


async def test_check_works_from_inside_a_running_event_loop(settings: Settings, golden: Path,
                                                           tmp_path: Path) -> None:
    result = make_gate(settings, golden, tmp_path, Factory(golden)).check("rag_answer", "2.0.0")
    assert result.passed


def test_prompt_registry_promotion_runs_through_the_golden_gate(settings: Settings, golden: Path,
                                                                tmp_path: Path) -> None:
    assert isinstance(load_default_gate(settings), GoldenGate)
    registry = PromptRegistry.from_settings(settings)
    registry.load()
    bad = make_gate(settings, golden, tmp_path, Factory(golden, prompt_version_fail={
        "2.0.0": [f"kpi-{i}" for i in range(10)]}))
    assert isinstance(bad, ReleaseGate)
    with pytest.raises(GateRefused, match="significant regression"):
        registry.promote("rag_answer", "2.0.0", gate=bad, actor="tester")
    assert registry.labels("rag_answer")["production"] == "1.0.0"
    good = make_gate(settings, golden, tmp_path, Factory(golden))
    entry = registry.promote("rag_answer", "2.0.0", gate=good, actor="tester")
    assert registry.labels("rag_answer")["production"] == "2.0.0"
    assert entry.gate is not None and entry.gate.passed


def test_runs_are_reproducible_through_a_deterministic_runner(golden: Path, tmp_path: Path) -> None:
    cases = load_golden([golden])

    def once(directory: Path) -> dict[str, Any]:
        run = asyncio.run(evaluate(cases, OracleRunner(cases, fail=["kpi-3"]), RunOptions(concurrency=5),
                                   golden_paths=[golden]))
        save(run, directory)
        return json.loads((directory / "summary.json").read_text())

    first, second = once(tmp_path / "a"), once(tmp_path / "b")
    for summary in (first, second):
        for key in ("started_at", "finished_at", "duration_s"):
            summary["metadata"].pop(key)
    assert first == second
    rows = [(tmp_path / d / "results.jsonl").read_text() for d in ("a", "b")]
    assert rows[0] == rows[1]
