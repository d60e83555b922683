from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import gateway.pipeline
from evals.errors import RunnerError
from evals.inprocess import EVAL_KEY_ID, InProcessRunner
from evals.runner import Target, open_runner
from evals.testing import make_result
from gateway.pipeline_types import PipelineRequest
from gateway.settings import Settings
from retrieval.errors import IndexNotFound


class FakeOrchestrator:
    def __init__(self) -> None:
        self.calls: list[tuple[PipelineRequest, Any]] = []

    async def run(self, request: PipelineRequest, principal: Any = None):  # type: ignore[no-untyped-def]
        self.calls.append((request, principal))
        return make_result("ok")


async def test_in_process_runner_uses_an_unthrottled_eval_principal(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Any) -> None:
    orchestrator = FakeOrchestrator()
    opened: list[str | None] = []

    @asynccontextmanager
    async def fake_open(settings: Settings, *, model: str | None = None) -> AsyncIterator[FakeOrchestrator]:
        opened.append(model)
        yield orchestrator

    monkeypatch.setattr(gateway.pipeline, "open_pipeline", fake_open)
    async with open_runner(Settings(data_dir=tmp_path), Target(model="ladder-extractive")) as runner:
        assert isinstance(runner, InProcessRunner)
        await runner.run(PipelineRequest(messages=[{"role": "user", "content": "q"}]))
    principal = orchestrator.calls[0][1]
    assert opened == ["ladder-extractive"]
    assert principal.key_id == EVAL_KEY_ID and principal.rpm >= 10**9 and principal.monthly_budget_usd is None


async def test_pipeline_start_up_errors_become_runner_errors(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Any) -> None:
    @asynccontextmanager
    async def no_index(settings: Settings, *, model: str | None = None) -> AsyncIterator[None]:
        raise IndexNotFound("no index under var/index; run `ladder ingest` first")
        yield  # pragma: no cover

    monkeypatch.setattr(gateway.pipeline, "open_pipeline", no_index)
    with pytest.raises(RunnerError, match="could not start: no index under var/index"):
        async with open_runner(Settings(data_dir=tmp_path), Target()):
            pass  # pragma: no cover
    with pytest.raises(RunnerError, match="needs settings"):
        async with open_runner(None, Target()):
            pass  # pragma: no cover
