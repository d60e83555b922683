"""Prompt registry over HTTP: read versions and labels; move labels (prompts:write)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gateway.deps import PromptsWritePrincipal, RolesPrincipal, ServicesDep
from gateway.errors import RequestError
from gateway.schemas.common import ErrorResponse
from prompts.schema import LABEL_PATTERN

router = APIRouter(tags=["prompts"])
_ERR = {400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}}


def _version(v: Any) -> dict[str, Any]:
    t = v.template
    return {
        "name": v.name, "version": v.version, "status": v.status, "sha256": v.sha256,
        "description": t.description, "changelog": t.changelog, "guard_policy": t.guard_policy,
        "parameters": t.parameters.model_dump(), "input_variables": sorted(t.input_variables),
    }


@router.get("/v1/prompts", summary="Prompt names with their labels")
async def list_prompts(services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    reg = services.prompts
    return {"object": "list", "data": [
        {"name": n, "labels": reg.labels(n), "versions": [v.version for v in reg.get(n)]}
        for n in reg.list_prompts()
    ]}


@router.get("/v1/prompts/{name}", responses=_ERR, summary="Versions, labels and label history of one prompt")
async def get_prompt(name: str, services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    reg = services.prompts
    return {
        "name": name,
        "labels": reg.labels(name),
        "versions": [_version(v) for v in reg.get(name)],
        "history": [h.model_dump(by_alias=True) for h in reg.history(name)],
    }


@router.get("/v1/prompts/{name}/versions/{version}", responses=_ERR, summary="One version, its template text included")
async def get_prompt_version(name: str, version: str, services: ServicesDep, principal: RolesPrincipal) -> dict[str, Any]:
    v = services.prompts.get_version(name, version)
    t = v.template
    return {**_version(v), "system": t.system, "user": t.user}


class LabelMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(None, max_length=1000)
    force: bool = False


@router.post("/v1/prompts/{name}/labels/{label}", responses=_ERR,
             summary="Point a label at a version; production goes through the golden-set gate")
async def move_label(
    name: str, label: str, body: LabelMove, services: ServicesDep, principal: PromptsWritePrincipal
) -> dict[str, Any]:
    reg = services.prompts
    actor = f"key:{principal.key_id}"
    # Malformed requests are the caller's mistake (400), checked before the registry
    # (whose own refusals are conflicts with its state: 409) or the gate is involved.
    if not LABEL_PATTERN.match(label):
        raise RequestError(
            f"{label!r} is not a valid label (lowercase letter first, then letters, digits, '-' "
            "or '_', at most 32 characters)", code="invalid_label", param="label",
        )
    if body.force and not (body.reason and body.reason.strip()):
        raise RequestError("force needs a reason (it is recorded in the label history)",
                           code="invalid_request", param="reason")
    if label in reg.gated_labels:
        from prompts.gate import load_default_gate

        gate = await anyio.to_thread.run_sync(lambda: load_default_gate(services.settings))
        entry = await anyio.to_thread.run_sync(
            lambda: reg.promote(name, body.version, gate=gate, force=body.force, reason=body.reason,
                                actor=actor, label=label)
        )
    else:
        entry = await anyio.to_thread.run_sync(
            lambda: reg.move_label(name, label, body.version, actor=actor, reason=body.reason)
        )
    return {"name": name, "label": label, "labels": reg.labels(name), "entry": entry.model_dump(by_alias=True)}
