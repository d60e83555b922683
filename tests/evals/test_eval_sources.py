"""A golden case citing a section the index does not have fails the run before any case runs.

In-process: the real pipeline on the session's corpus index, through the real CLI.
Over --url: the HTTP runner reads the sections from /v1/roles (a scripted server).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from evals.http_runner import HttpRunner
from evals.runner import RunOptions, Target
from evals.schema import GoldenError, load_golden
from evals.sources import check_expected_sources, with_ancestors
from evals.suite import evaluate
from evals.testing import OracleRunner

STAFF = "staff-applied-ai-engineer"
GOOD = {"id": "kpi-good", "slice": "kpi", "question": "What is the availability target?",
        "expected_sources": [f"{STAFF}/kpis-and-productivity-metrics"],
        "expected_facts": [{"any_of": ["99.9%"]}]}
BAD = {"id": "goals-typo", "slice": "goals", "question": "What are the 30-day goals?",
       "expected_sources": [f"{STAFF}/goals/30-day-goalz"], "expected_facts": [{"any_of": ["landscape"]}]}


def write_golden(path: Path, *cases: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def test_in_process_run_rejects_a_missing_section_before_running(
    corpus_index_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.cli.main import app

    data = tmp_path / "var"
    shutil.copytree(corpus_index_root, data / "index")
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LADDER_CONFIG", str(tmp_path / "empty.toml"))
    monkeypatch.setenv("LADDER_DATA_DIR", str(data))
    # The index was embedded with the torch MiniLM; the pipeline must query with the same.
    monkeypatch.setenv("LADDER_RETRIEVAL__EMBEDDING_BACKEND", "torch")
    golden = write_golden(tmp_path / "golden.jsonl", GOOD, BAD)
    out = tmp_path / "run"

    result = CliRunner().invoke(app, ["eval", "run", "--golden", str(golden), "--out", str(out)])

    output = "".join(result.output.split())  # rich wraps long lines anywhere
    assert result.exit_code == 2, result.output
    assert "golden.jsonl:2:case'goals-typo'expectsunknownsectionid" in output
    assert f"{STAFF}/goals/30-day-goalz" in output
    assert not out.exists()
    # The good case on line 1 never ran: no eval request reached the usage ledger.
    ledger = data / "ladder.db"
    if ledger.exists():
        with sqlite3.connect(ledger) as conn:
            assert conn.execute("SELECT count(*) FROM requests WHERE route = 'eval'").fetchone()[0] == 0


# --- over --url: the sections come from /v1/roles ---------------------------------------

ROLES = {"object": "list", "data": [{"slug": "staff"}, {"slug": "mlops"}]}
DETAIL = {
    "staff": {"slug": "staff", "sections": [
        {"id": "staff/kpis", "subsections": []},
        {"id": "staff/goals", "subsections": [{"id": "staff/goals/30-day"}, {"id": "staff/goals/60-day"}]}]},
    "mlops": {"slug": "mlops", "sections": [{"id": "mlops/summary", "subsections": []}]},
}


class RolesServer:
    """Answers /v1/roles like the gateway; any other path is recorded as a case being run."""

    def __init__(self, roles_status: int = 200) -> None:
        self.roles_status = roles_status
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path.startswith("/v1/roles") and self.roles_status != 200:
            return httpx.Response(self.roles_status, json={"error": {"message": "missing scope roles"}})
        if request.url.path == "/v1/roles":
            return httpx.Response(200, json=ROLES)
        if request.url.path.startswith("/v1/roles/"):
            return httpx.Response(200, json=DETAIL[request.url.path.rsplit("/", 1)[1]])
        return httpx.Response(500, json={"error": {"message": "a case ran"}})


def http_factory(server: RolesServer):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def factory(settings: Any, target: Target) -> AsyncIterator[HttpRunner]:
        async with HttpRunner.open(target.url or "http://ladder.test", api_key=target.api_key,
                                   default_model="ladder-extractive",
                                   transport=httpx.MockTransport(server)) as runner:
            yield runner
    return factory


async def test_http_runner_lists_sections_and_sub_sections_from_roles() -> None:
    server = RolesServer()
    async with http_factory(server)(None, Target(url="http://ladder.test")) as runner:
        ids = await runner.section_ids()
    assert ids == {"staff/kpis", "staff/goals", "staff/goals/30-day", "staff/goals/60-day", "mlops/summary"}


async def test_http_runner_without_the_roles_scope_skips_the_check(tmp_path: Path) -> None:
    server = RolesServer(roles_status=403)
    golden = write_golden(tmp_path / "g.jsonl", {**BAD, "expected_sources": ["staff/nowhere"]})
    async with http_factory(server)(None, Target(url="http://ladder.test")) as runner:
        assert await runner.section_ids() is None
        note = await check_expected_sources([golden], runner)
    assert note is not None and "did not list its sections" in note


def test_url_run_rejects_a_missing_section_before_running(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.cli.eval import build_app

    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path / "var"))
    golden = write_golden(
        tmp_path / "golden.jsonl",
        {**GOOD, "expected_sources": ["staff/kpis"]},
        {**BAD, "expected_sources": ["staff/goals/30-day"]},
        {**BAD, "id": "goals-90", "expected_sources": ["staff/goals/90-day"]},
    )
    server = RolesServer()
    result = CliRunner().invoke(build_app(http_factory(server)),
                                ["run", "--golden", str(golden), "--url", "http://ladder.test",
                                 "--out", str(tmp_path / "run")])
    output = "".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "golden.jsonl:3" in output and "'goals-90'" in output and "staff/goals/90-day" in output
    assert all(p.startswith("/v1/roles") for p in server.paths), server.paths  # no case ran
    assert not (tmp_path / "run").exists()


async def test_runners_that_cannot_list_sections_run_unchecked(tmp_path: Path) -> None:
    golden = write_golden(tmp_path / "g.jsonl", {**GOOD, "expected_sources": ["any-role/any-section"]})
    cases = load_golden([golden])
    run = await evaluate(cases, OracleRunner(cases), RunOptions(), golden_paths=[golden])
    assert "cannot list its sections" in run.summary["metadata"]["expected_sources_check"]
    assert run.summary["counts"]["cases"] == 1


async def test_evaluate_raises_before_the_first_case(tmp_path: Path) -> None:
    golden = write_golden(tmp_path / "g.jsonl", {**GOOD, "expected_sources": ["staff/kpis"]},
                          {**BAD, "expected_sources": ["staff/goals/120-day"]})
    cases = load_golden([golden])

    class Listing(OracleRunner):
        async def section_ids(self) -> set[str]:
            return {"staff/kpis", "staff/goals", "staff/goals/30-day"}

    runner = Listing(cases)
    with pytest.raises(GoldenError, match=r"g\.jsonl:2: case 'goals-typo' expects unknown section id"):
        await evaluate(cases, runner, RunOptions(), golden_paths=[golden])
    assert runner.requests == []


def test_chunk_section_ids_count_their_parents() -> None:
    assert with_ancestors(["r/goals/30-day", "r/kpis"]) == {"r/goals", "r/goals/30-day", "r/kpis"}


def test_prompt_gate_refuses_to_promote_on_a_missing_section(tmp_path: Path) -> None:
    from evals.gate import GoldenGate
    from gateway.settings import Settings

    golden = write_golden(tmp_path / "g.jsonl", {**GOOD, "expected_sources": ["staff/kpis"]},
                          {**BAD, "expected_sources": ["staff/gaols"]})
    cases = load_golden([golden])
    runners: list[OracleRunner] = []

    class Listing(OracleRunner):
        async def section_ids(self) -> set[str]:
            return {"staff/kpis", "staff/goals"}

    @asynccontextmanager
    async def factory(settings: Any, target: Target) -> AsyncIterator[OracleRunner]:
        runners.append(Listing(cases))
        yield runners[-1]

    gate = GoldenGate(Settings(data_dir=tmp_path / "var"), runner_factory=factory, golden_paths=[golden],
                      runs_dir=None, baselines_dir=tmp_path / "baselines")
    result = gate.check("rag_answer", "2.0.0")
    assert not result.passed
    assert result.summary.startswith("golden gate could not run: ")
    assert "g.jsonl:2: case 'goals-typo' expects unknown section id(s) ['staff/gaols']" in result.summary
    assert all(r.requests == [] for r in runners)
