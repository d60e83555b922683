from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Index loaded, ledger writable, default provider ready")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        checks["index"] = {"ok": True, "version": services.snapshot.version, "chunks": services.snapshot.index.size}
    except RuntimeError as exc:
        checks["index"] = {"ok": False, "error": str(exc)}
    # A thread: the probe may wait (briefly) for the database's write lock.
    checks["ledger"] = {"ok": await anyio.to_thread.run_sync(services.ledger.writable)}
    default = services.settings.providers.default_model
    try:
        target = services.router.targets(default)[0]
        checks["provider"] = {"ok": await services.router.providers[target.provider].ready(),
                              "model": default, "provider": target.provider}
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
        checks["provider"] = {"ok": False, "error": type(exc).__name__}
    ready = all(c.get("ok") for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                        status_code=200 if ready else 503)
