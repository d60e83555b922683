"""POST /v1/answers: the managers' structured, cited answer API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.schemas.common import Citation, GuardVerdict, PromptRef, Usage


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    role: str | None = Field(None, description="Restrict retrieval to one role slug")
    top_k: int | None = Field(None, ge=1, le=20)
    model: str | None = Field(None, description="Model alias; see GET /v1/models")
    prompt_version: str | None = Field(None, description="Pin a prompt version or label")

    @field_validator("question")
    @classmethod
    def _has_text(cls, question: str) -> str:
        # Whitespace and control characters alone ask nothing: a caller mistake (400),
        # not a question for the guards to refuse.
        if not any(ch.isprintable() and not ch.isspace() for ch in question):
            raise ValueError("question must contain visible text")
        return question


class AnswerResponse(BaseModel):
    answer: str
    citations: list[Citation]
    refused: bool
    refusal_reason: str | None = None
    refusal_code: str | None = None
    guardrails: list[GuardVerdict]
    usage: Usage
    model: str
    provider: str
    prompt: PromptRef
    trace_id: str
    latency_ms: float
    cached: bool = False
