"""Running golden cases through a pipeline: the ``PipelineRunner`` seam and the loop.

Anything with ``async run(PipelineRequest) -> PipelineResult`` is a runner: the
in-process ``Orchestrator`` (``gateway.pipeline.open_pipeline``), the HTTP
client of ``evals.http_runner`` and the test doubles of ``evals.testing``.

Cases run concurrently under a semaphore. A runner that raises on one case does
not end the run: the attempt is recorded as an error result (empty answer,
nothing retrieved), which scores as a failure with the error as its reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from evals.errors import RunnerError
from evals.schema import GoldenCase
from gateway.pipeline_types import PipelineRequest, PipelineResult
from gateway.schemas.common import PromptRef, Usage

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger(__name__)

# The model the gate and the default suite use: deterministic, no LLM, free.
EXTRACTIVE_MODEL = "ladder-extractive"
# Without --prompt a run pins the production label, so a canary share never mixes
# candidate answers into a "production" run.
PRODUCTION_LABEL = "production"


@runtime_checkable
class PipelineRunner(Protocol):
    async def run(self, request: PipelineRequest) -> PipelineResult: ...


@dataclass(frozen=True)
class Target:
    """Where cases go: the in-process pipeline (url None) or a running server."""

    url: str | None = None
    api_key: str | None = None
    model: str | None = None
    timeout_s: float = 60.0


RunnerFactory = Callable[["Settings | None", Target], AbstractAsyncContextManager[PipelineRunner]]


@asynccontextmanager
async def open_runner(settings: Settings | None, target: Target) -> AsyncIterator[PipelineRunner]:
    """The default runner factory: HTTP when ``target.url`` is set, else in-process.

    ``settings`` may be None only with a URL: the server then has its own.
    """
    if target.url:
        from evals.http_runner import HttpRunner

        default = settings.providers.default_model if settings is not None else EXTRACTIVE_MODEL
        async with HttpRunner.open(
            target.url, api_key=target.api_key, timeout_s=target.timeout_s,
            default_model=target.model or default,
        ) as runner:
            yield runner
        return
    if settings is None:
        raise RunnerError("the in-process pipeline needs settings")
    try:
        from gateway.pipeline import open_pipeline
    except ModuleNotFoundError as exc:
        if exc.name not in ("gateway.pipeline",):
            raise
        raise RunnerError(
            "the in-process pipeline (gateway.pipeline.open_pipeline) is not available in this "
            "build; run against a server with --url instead"
        ) from exc
    from evals.inprocess import InProcessRunner, startup_errors

    async with AsyncExitStack() as stack:
        try:
            orchestrator = await stack.enter_async_context(open_pipeline(settings, model=target.model))
        except startup_errors() as exc:
            raise RunnerError(f"the pipeline could not start: {exc}") from exc
        yield InProcessRunner(orchestrator)


@dataclass(frozen=True)
class RunOptions:
    model: str | None = None  # PipelineRequest.model (alias); None = the server's default
    prompt_version: str | None = None  # a version or a label; None = production
    repeat: int = 1
    concurrency: int = 8
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise ValueError("repeat must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


def build_request(case: GoldenCase, options: RunOptions) -> PipelineRequest:
    # The cache is off: a repeat must exercise the pipeline again, and a cached answer
    # from an earlier run (another prompt version) must never be scored as this run's.
    return PipelineRequest(
        messages=case.as_messages(),
        route="eval",
        role=case.role,
        top_k=options.top_k,
        model=options.model,
        prompt_version=options.prompt_version,
        audience=case.audience,
        use_cache=False,
    )


def error_result(message: str, latency_ms: float) -> PipelineResult:
    """What a failed attempt scores as: no answer, nothing retrieved, outcome 'error'."""
    return PipelineResult(
        answer="", citations=[], retrieved=[], refused=False, blocked=False,
        refusal_reason=None, outcome="error", verdicts=[],
        usage=Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0, cost_usd=None,
                    source="none"),
        model="", provider="", prompt=PromptRef(name="", version=""), trace_id="",
        latency_ms=latency_ms, index_version="", extra={"error": message},
    )


@dataclass
class Attempt:
    result: PipelineResult
    error: str | None = None


async def run_cases(
    cases: Sequence[GoldenCase],
    runner: PipelineRunner,
    options: RunOptions,
    *,
    on_attempt: Callable[[GoldenCase], None] | None = None,
) -> list[list[Attempt]]:
    """Run every case ``options.repeat`` times; attempts come back in case order."""
    semaphore = asyncio.Semaphore(options.concurrency)
    attempts: list[list[Attempt | None]] = [[None] * options.repeat for _ in cases]

    async def one(index: int, repeat: int) -> None:
        case = cases[index]
        async with semaphore:
            started = time.perf_counter()
            try:
                attempt = Attempt(await runner.run(build_request(case, options)))
            except asyncio.CancelledError:
                raise
            # A failing case is a finding of the run, not a reason to stop it; the
            # error is recorded in results.jsonl and fails the case.
            except Exception as exc:  # noqa: BLE001
                message = f"{type(exc).__name__}: {exc}"
                log.warning("case %s failed: %s", case.id, message)
                elapsed = (time.perf_counter() - started) * 1000.0
                attempt = Attempt(error_result(message, elapsed), error=message)
        attempts[index][repeat] = attempt
        if on_attempt is not None:
            on_attempt(case)

    await asyncio.gather(*(one(i, r) for i in range(len(cases)) for r in range(options.repeat)))
    return [[a for a in row if a is not None] for row in attempts]
