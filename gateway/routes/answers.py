from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import AnswersPrincipal, OrchestratorDep
from gateway.pipeline_types import PipelineRequest
from gateway.schemas.answers import AnswerRequest, AnswerResponse
from gateway.schemas.common import ErrorResponse

router = APIRouter(tags=["answers"])


@router.post(
    "/v1/answers",
    response_model=AnswerResponse,
    responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 404: {"model": ErrorResponse},
               429: {"model": ErrorResponse}},
    summary="A grounded, cited answer with structured guard verdicts and usage",
)
async def answer(body: AnswerRequest, principal: AnswersPrincipal, pipeline: OrchestratorDep) -> AnswerResponse:
    result = await pipeline.run(
        PipelineRequest(
            messages=[{"role": "user", "content": body.question}],
            route="answers",
            role=body.role,
            top_k=body.top_k,
            model=body.model,
            prompt_version=body.prompt_version,
            temperature=0.0,
            audience=principal.audience.value,  # type: ignore[arg-type]
            key_id=principal.key_id,
            subject=principal.key_id,
        ),
        principal,
    )
    return AnswerResponse(
        answer=result.answer,
        citations=result.citations,
        refused=result.refused,
        refusal_reason=result.refusal_reason,
        refusal_code=result.refusal_code,
        guardrails=result.verdicts,
        usage=result.usage,
        model=result.model,
        provider=result.provider,
        prompt=result.prompt,
        trace_id=result.trace_id,
        latency_ms=result.latency_ms,
        cached=result.cached,
    )
