"""OpenAI-compatible chat completion wire format (the subset ladder serves)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.schemas.common import Citation


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(
                str(part.get("text", "")) for part in self.content if part.get("type") == "text"
            )
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    # Unknown OpenAI parameters (top_p, seed, ...) are accepted and ignored, as the
    # SDK sends some by default; the ones ladder honours are declared here.
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=32000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)
    # Declared only to refuse what cannot be honoured: one answer per request, and no
    # tool calls (the answer comes from the blueprints). Silently ignoring them would hand
    # a client that asked for three choices, or for a function call, something else.
    n: int | None = Field(None, description="Only 1 is supported.")
    tools: list[dict[str, Any]] | None = Field(None, description="Tool calls are not supported.")
    # ladder extensions (the SDK passes them through ``extra_body``)
    role: str | None = None
    prompt_version: str | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n is not None and n != 1:
            raise ValueError("only n=1 is supported: ladder returns one answer per request")
        return n

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if tools:
            raise ValueError("tool calling is not supported: ladder answers from the role blueprints")
        return tools

    @field_validator("messages")
    @classmethod
    def _needs_user_turn(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.role == "user" and m.text().strip() for m in messages):
            raise ValueError("messages must contain at least one non-empty user message")
        return messages


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: str


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float | None = None


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    citations: list[Citation] = Field(default_factory=list)
    # ladder extensions
    refused: bool = False
    blocked: bool = False
    refusal_reason: str | None = None
    refusal_code: str | None = None
    provider: str | None = None
    prompt: dict[str, Any] | None = None
    trace_id: str | None = None
    cached: bool = False  # replayed from the response cache: nothing was billed (cost 0)
