from __future__ import annotations

import time

from fastapi import APIRouter

from gateway.deps import ChatPrincipal, ServicesDep

router = APIRouter(tags=["chat"])


@router.get("/v1/models", summary="Configured model aliases")
async def list_models(services: ServicesDep, principal: ChatPrincipal) -> dict[str, object]:
    router_ = services.router
    data = []
    for alias, spec in sorted(router_.aliases().items()):
        targets = router_.targets(alias)
        data.append({
            "id": alias, "object": "model", "created": 0, "owned_by": "ladder",
            "description": spec.description,
            "targets": [t.provider for t in targets],
            "default": alias == services.settings.providers.default_model,
        })
    return {"object": "list", "data": data, "generated_at": int(time.time())}
