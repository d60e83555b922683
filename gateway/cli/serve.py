"""``ladder serve``: run the HTTP gateway with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import console, settings_or_exit


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings host)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings port)")] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Allow anonymous requests (loopback only); sets auth.dev_mode")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn's own log level")] = "warning",
) -> None:
    """Start the gateway: answers API, OpenAI-compatible chat, web page at /."""
    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = settings_or_exit(**overrides)
    if dev:
        settings = settings_or_exit(**overrides, auth={**settings.auth.model_dump(), "dev_mode": True})

    import uvicorn

    from gateway.app import create_app

    app = create_app(settings)
    console.print(
        f"ladder listening on http://{settings.host}:{settings.port}  "
        f"(docs: /docs, chat: /{', anonymous dev mode' if settings.auth.dev_mode else ''})"
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,  # ladder writes its own JSON request log
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        lifespan="on",
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
