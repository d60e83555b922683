"""Models shared by several routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from guardrails.base import Verdict


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI-style error envelope, used for every 4xx and 5xx."""

    error: ErrorBody


class Citation(BaseModel):
    marker: int = Field(description="The [n] marker used in the answer text")
    chunk_id: str
    document: str = Field(description="Title of the blueprint (role)")
    role: str = Field(description="Role slug")
    section_id: str
    section_path: str
    quote: str = Field(description="The cited passage text")
    score: float


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float | None = Field(description="None when the model has no known price")
    source: str = Field(description="'provider' (reported upstream) or the tokenizer used")


class PromptRef(BaseModel):
    name: str
    version: str
    label: str | None = None


GuardVerdict = Verdict
