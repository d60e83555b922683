"""The pipeline without HTTP: for ``ladder ask``, the evaluation harness and scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.orchestrator import Orchestrator
from gateway.services import Services
from gateway.settings import Settings


@asynccontextmanager
async def open_pipeline(settings: Settings, *, model: str | None = None) -> AsyncIterator[Orchestrator]:
    """Start every service in-process, yield the orchestrator, close everything after.

    ``model`` overrides the default model alias for this pipeline.
    """
    if model is not None:
        settings = settings.model_copy(
            update={"providers": settings.providers.model_copy(update={"default_model": model})}
        )
    services = Services(settings)
    await services.start()
    try:
        yield Orchestrator(services)
    finally:
        await services.close()
