"""What goes into and comes out of one pass through the pipeline.

The HTTP routes, the CLI (``ladder ask``) and the evaluation harness all call
``Orchestrator.run(PipelineRequest) -> PipelineResult``; only the routes know
about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.schemas.common import Citation, PromptRef, Usage
from guardrails.base import Verdict

Outcome = Literal["ok", "refused", "blocked", "error"]
Audience = Literal["employee", "manager", "evaluator"]


@dataclass(frozen=True)
class PipelineRequest:
    messages: list[dict[str, str]]  # user/assistant turns; the last is the user's question
    route: Literal["answers", "chat", "eval", "cli"] = "answers"
    role: str | None = None  # explicit role-slug filter
    top_k: int | None = None
    model: str | None = None  # model alias; None = settings default
    prompt_version: str | None = None  # a version ("2.0.0") or a label ("candidate")
    temperature: float | None = None
    max_tokens: int | None = None
    audience: Audience = "employee"
    key_id: str | None = None
    subject: str | None = None  # stable id for canary assignment (user or key)
    use_cache: bool = True


@dataclass(frozen=True)
class RetrievedChunk:
    chunk_id: str
    role: str
    document: str
    section_id: str
    section_path: str
    kind: str
    text: str
    score: float
    bm25_score: float | None
    dense_score: float | None


@dataclass
class PipelineResult:
    answer: str
    citations: list[Citation]
    retrieved: list[RetrievedChunk]
    refused: bool
    blocked: bool
    refusal_reason: str | None
    outcome: Outcome
    verdicts: list[Verdict]
    usage: Usage
    model: str
    provider: str
    prompt: PromptRef
    trace_id: str
    latency_ms: float
    index_version: str
    cached: bool = False
    # Machine-readable reason beside refusal_reason's plain words: no_evidence,
    # unknown_role, prompt_injection, off_topic, message_too_long, ungrounded, ...
    refusal_code: str | None = None
    retrieval_query: str = ""
    extra: dict[str, object] = field(default_factory=dict)
