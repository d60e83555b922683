"""OpenAI-compatible chat completions, streaming included (server-sent events)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from gateway.deps import ChatPrincipal, OrchestratorDep
from gateway.observability.tracing import current_trace_id
from gateway.pipeline_types import PipelineRequest, PipelineResult
from gateway.providers.errors import ProviderStreamError
from gateway.schemas.chat import (
    ChatChoice,
    ChatChoiceMessage,
    ChatRequest,
    ChatResponse,
    ChatUsage,
)
from gateway.schemas.common import ErrorResponse

log = logging.getLogger("ladder.chat")
router = APIRouter(tags=["chat"])
_WORDS = re.compile(r"\S+\s*|\s+")


def _pipeline_request(body: ChatRequest, principal: ChatPrincipal) -> PipelineRequest:
    # The client's own system messages are not instructions to ladder; the guards
    # still see them (as user-controlled text) through the conversation.
    turns = [
        {"role": "user" if m.role in ("system", "developer") else m.role, "content": m.text()}
        for m in body.messages
        if m.role in ("user", "assistant", "system", "developer") and m.text().strip()
    ]
    while turns and turns[-1]["role"] != "user":
        turns.pop()
    return PipelineRequest(
        messages=turns,
        route="chat",
        role=body.role,
        model=body.model,
        prompt_version=body.prompt_version,
        temperature=body.temperature,
        max_tokens=body.max_tokens,
        audience=principal.audience.value,  # type: ignore[arg-type]
        key_id=principal.key_id,
        subject=body.user or principal.key_id,
    )


def _finish_reason(result: PipelineResult) -> str:
    return "content_filter" if result.blocked or (result.refused and result.refusal_code != "no_evidence") else "stop"


def _extras(result: PipelineResult) -> dict[str, object]:
    return {
        "citations": [c.model_dump() for c in result.citations],
        "refused": result.refused,
        "blocked": result.blocked,
        "refusal_reason": result.refusal_reason,
        "refusal_code": result.refusal_code,
        "provider": result.provider,
        "prompt": result.prompt.model_dump(),
        "trace_id": result.trace_id,
        "cached": result.cached,
    }


@router.post(
    "/v1/chat/completions",
    response_model=ChatResponse,
    responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
               404: {"model": ErrorResponse}, 429: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
    summary="OpenAI-compatible chat completion over the role blueprints",
)
async def chat(body: ChatRequest, principal: ChatPrincipal, pipeline: OrchestratorDep):  # type: ignore[no-untyped-def]
    request = _pipeline_request(body, principal)
    if not body.stream:
        result = await pipeline.run(request, principal)
        return ChatResponse(
            id=f"chatcmpl-{result.trace_id or int(time.time() * 1000)}",
            created=int(time.time()),
            model=result.model,
            choices=[ChatChoice(message=ChatChoiceMessage(content=result.answer), finish_reason=_finish_reason(result))],
            usage=ChatUsage(
                prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens,
                total_tokens=result.usage.total_tokens, cost_usd=result.usage.cost_usd,
            ),
            **_extras(result),  # type: ignore[arg-type]
        )
    skeleton, pieces = await pipeline.stream(request, principal)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        _sse(skeleton, pieces, include_usage),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def _event(payload: dict[str, object]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


_MARK = "\x00"  # stands for the word; encoded as "\u0000", which no other field can hold


def _content_event_parts(event: str) -> tuple[str, str]:
    """A content chunk's event split around its (marker) content: what comes before the
    JSON string of the word and what comes after. The content is the event's last string."""
    head, found, tail = event.rpartition(json.dumps(_MARK))
    if not found:
        raise ValueError("the event has no content marker")
    return head, tail


async def _sse(result: PipelineResult, pieces: AsyncIterator[str], include_usage: bool) -> AsyncIterator[str]:
    created = int(time.time())
    chunk_id = f"chatcmpl-{result.trace_id or created}"

    def chunk(delta: dict[str, object], finish: str | None = None, **extra: object) -> str:
        return _event({
            "id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": result.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
        })

    # A word's event differs from the next only in the word: the rest is encoded once per
    # stream (profiled at ~3% of a streamed request's CPU; the gain is within this box's noise).
    head, tail = _content_event_parts(chunk({"content": _MARK}))
    yield chunk({"role": "assistant", "content": ""})
    try:
        async for piece in pieces:
            # Guards release whole sentences; clients still get word-sized deltas so the
            # answer renders progressively, as with any OpenAI-compatible stream. A
            # sentence's events go out in one write: they are ready together, and one
            # ASGI send per word cost more than the rest of the relay under load.
            words = _WORDS.findall(piece)
            if words:
                yield "".join(f"{head}{json.dumps(word, ensure_ascii=False)}{tail}" for word in words)
    except ProviderStreamError:
        # Never a silent truncation: the client learns the answer is incomplete.
        yield _event({"error": {
            "message": "the model provider failed while streaming; the answer above is incomplete",
            "type": "provider_error", "code": "stream_interrupted", "param": None,
        }})
        yield "data: [DONE]\n\n"
        return
    except Exception:  # headers are sent: an error event is the only way left to tell the client
        trace_id = current_trace_id() or result.trace_id
        log.exception("streamed answer failed (trace %s)", trace_id)
        yield _event({"error": {
            "message": f"internal error while streaming; the answer above is incomplete "
                       f"(quote trace id {trace_id or 'n/a'} when reporting it)",
            "type": "server_error", "code": "internal_error", "param": None,
        }})
        yield "data: [DONE]\n\n"
        return
    yield chunk({}, _finish_reason(result), **_extras(result))
    if include_usage:
        yield _event({
            "id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": result.model,
            "choices": [],
            "usage": {"prompt_tokens": result.usage.prompt_tokens,
                      "completion_tokens": result.usage.completion_tokens,
                      "total_tokens": result.usage.total_tokens, "cost_usd": result.usage.cost_usd},
        })
    yield "data: [DONE]\n\n"
