from __future__ import annotations

from typing import Any, Literal

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gateway.deps import ChatPrincipal, ServicesDep
from gateway.schemas.common import ErrorResponse
from guardrails.pii.redactor import PiiMap, redact

router = APIRouter(tags=["chat"])


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(min_length=1, max_length=64)
    rating: Literal[1, -1] = Field(description="+1 thumbs up, -1 thumbs down")
    comment: str | None = Field(None, max_length=2000)


@router.post("/v1/feedback", status_code=201, responses={400: {"model": ErrorResponse}},
             summary="Thumbs up/down on an answer, stored with its trace id")
async def feedback(body: FeedbackRequest, services: ServicesDep, principal: ChatPrincipal) -> dict[str, Any]:
    # Comments are free text typed by employees: personal data is redacted before it is stored.
    comment = redact(body.comment, PiiMap())[0] if body.comment else body.comment
    saved = await anyio.to_thread.run_sync(
        lambda: services.ledger.record_feedback(body.trace_id, principal.key_id, body.rating, comment)
    )
    return {"status": "recorded", "feedback": saved.model_dump(mode="json")}
