"""Test doubles for the evaluation harness (shipped with the code, for tests only).

None of these runs the real pipeline. They stand in for ``PipelineRunner`` so
the harness's maths, files, CLI and gate can be tested deterministically:

* ``golden_case``: build a ``GoldenCase`` from keyword arguments;
* ``make_result`` / ``chunk``: build a ``PipelineResult`` in one line;
* ``ScriptedRunner``: replies with the result scripted for each question;
* ``FunctionRunner``: replies with whatever a function computes;
* ``OracleRunner``: answers golden cases from their own expectations (facts
  stated, expected sections retrieved and cited, refusing/blocking when
  required), optionally failing chosen cases - a stand-in for a good or a
  regressed pipeline.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from evals.schema import Fact, GoldenCase
from gateway.pipeline_types import PipelineRequest, PipelineResult, RetrievedChunk
from gateway.schemas.common import Citation, PromptRef, Usage
from guardrails.base import Verdict


def golden_case(id: str = "case-1", slice: str = "kpi", question: str | None = None,
                *, facts: Iterable[str | list[str]] | None = None, **fields: Any) -> GoldenCase:
    """A validated case; ``facts=["99.9%", ["200 ms", "200ms"]]`` gives one Fact per entry."""
    if facts is not None:
        fields["expected_facts"] = [Fact(any_of=[f] if isinstance(f, str) else list(f)) for f in facts]
    return GoldenCase(id=id, slice=slice, question=question or f"question of {id}?", **fields)


def chunk(section_id: str, text: str = "", *, chunk_id: str | None = None, score: float = 1.0) -> RetrievedChunk:
    role = section_id.split("/", 1)[0]
    return RetrievedChunk(
        chunk_id=chunk_id or f"{section_id}#0", role=role, document=role.replace("-", " ").title(),
        section_id=section_id, section_path=section_id.replace("/", " > "), kind="text",
        text=text, score=score, bm25_score=None, dense_score=None,
    )


def citation(marker: int, of: RetrievedChunk, quote: str | None = None) -> Citation:
    return Citation(
        marker=marker, chunk_id=of.chunk_id, document=of.document, role=of.role,
        section_id=of.section_id, section_path=of.section_path,
        quote=of.text if quote is None else quote, score=of.score,
    )


def make_result(
    answer: str = "",
    *,
    retrieved: Iterable[RetrievedChunk] = (),
    citations: Iterable[Citation] = (),
    refused: bool = False,
    blocked: bool = False,
    refusal_reason: str | None = None,
    latency_ms: float = 10.0,
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
    cost_usd: float | None = 0.0,
    model: str = "ladder-extractive",
    prompt_version: str = "1.0.0",
    trace_id: str = "trace-test",
    index_version: str = "test-index",
) -> PipelineResult:
    verdicts = [Verdict(guard="injection", stage="input", triggered=True, action="block", score=0.99,
                        threshold=0.5, reasons=["scripted block"])] if blocked else []
    refused = refused or blocked
    return PipelineResult(
        answer=answer, citations=list(citations), retrieved=list(retrieved), refused=refused,
        blocked=blocked, refusal_reason=refusal_reason or ("blocked" if blocked else "abstain" if refused else None),
        outcome="blocked" if blocked else "refused" if refused else "ok", verdicts=verdicts,
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens, cost_usd=cost_usd, source="test"),
        model=model, provider="extractive", prompt=PromptRef(name="rag_answer", version=prompt_version),
        trace_id=trace_id, latency_ms=latency_ms, index_version=index_version,
    )


Reply = PipelineResult | Callable[[PipelineRequest], PipelineResult]


class ScriptedRunner:
    """Replies by the request's final question; unknown questions get ``default`` (or fail)."""

    def __init__(self, replies: Mapping[str, Reply], default: Reply | None = None):
        self.replies = dict(replies)
        self.default = default
        self.requests: list[PipelineRequest] = []

    async def run(self, request: PipelineRequest) -> PipelineResult:
        self.requests.append(request)
        question = request.messages[-1]["content"]
        reply = self.replies.get(question, self.default)
        if reply is None:
            raise LookupError(f"no scripted reply for {question!r}")
        return reply(request) if callable(reply) else reply


class FunctionRunner:
    """Replies with ``fn(request)``; ``fn`` may be sync or async."""

    def __init__(self, fn: Callable[[PipelineRequest], PipelineResult | Awaitable[PipelineResult]]):
        self.fn = fn
        self.requests: list[PipelineRequest] = []

    async def run(self, request: PipelineRequest) -> PipelineResult:
        self.requests.append(request)
        out = self.fn(request)
        return await out if asyncio.iscoroutine(out) else out  # type: ignore[return-value]


class OracleRunner:
    """Answers each golden case from its expectations; ``fail`` lists case ids to get wrong.

    A failed case is answered as a pipeline that lost the thread would: nothing
    relevant retrieved, no facts, not refusing or blocking. Latency is derived
    from the question's hash, so runs are repeatable.
    """

    def __init__(self, cases: Iterable[GoldenCase], *, fail: Iterable[str] = (),
                 prompt_version_fail: Mapping[str, Iterable[str]] | None = None):
        self.by_question = {c.final_question: c for c in cases}
        self.fail = set(fail)
        # Per pinned prompt version, extra case ids to get wrong (to simulate a regression).
        self.version_fail = {k: set(v) for k, v in (prompt_version_fail or {}).items()}
        self.requests: list[PipelineRequest] = []

    async def run(self, request: PipelineRequest) -> PipelineResult:
        self.requests.append(request)
        question = request.messages[-1]["content"]
        case = self.by_question.get(question)
        if case is None:
            raise LookupError(f"the oracle knows no case asking {question!r}")
        wrong = case.id in self.fail or case.id in self.version_fail.get(request.prompt_version or "", ())
        digest = int(hashlib.sha256(question.encode()).hexdigest()[:6], 16)
        common: dict[str, Any] = {"latency_ms": 5.0 + digest % 50,
                                  "prompt_version": request.prompt_version or "1.0.0",
                                  "trace_id": f"trace-{case.id}"}
        if wrong:
            return make_result("I am not sure, but it is probably something else entirely.",
                               retrieved=[chunk("unrelated-role/summary", "Nothing relevant.")], **common)
        if case.must_block:
            return make_result("Request blocked by the input guard.", blocked=True, **common)
        if case.must_refuse:
            return make_result("I can't find that in the role blueprints.", refused=True, **common)
        facts = [f.any_of[0] for f in case.expected_facts]
        sources = case.expected_sources or ["sample-role/summary"]
        chunks = [chunk(s, f"The blueprint states: {'; '.join(facts) or 'the details'}.") for s in sources]
        sentence = f"The blueprint states: {'; '.join(facts) or 'the details'}."
        return make_result(f"{sentence} [1]", retrieved=chunks, citations=[citation(1, chunks[0])], **common)
