"""``ladder serve``: run the HTTP gateway with uvicorn.

Shutdown (SIGTERM or Ctrl-C) is graceful and bounded by ``settings.shutdown_timeout_s``:
uvicorn stops accepting connections and lets in-flight requests (streams included)
finish for most of that budget, then the lifespan closes the services (the ledger
commits its queue); a watchdog ends the process if all of that overruns, so an
orchestrator's kill timer never has to.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.common import console, fail, settings_or_exit
from gateway.cli.prefork import START_FAILED_EXIT

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger("ladder.serve")

# Share of the shutdown budget given to draining in-flight requests; the rest is kept
# for closing services (ledger commit, provider clients, span export).
DRAIN_SHARE = 0.7
# Exit status when the watchdog had to end the process (EX_SOFTWARE).
WATCHDOG_EXIT = 70


def drain_timeout(shutdown_timeout_s: float) -> int:
    """Seconds uvicorn waits for in-flight requests; uvicorn takes whole seconds."""
    return max(1, int(shutdown_timeout_s * DRAIN_SHARE))


def _watchdog(deadline_s: float) -> None:
    def expire() -> None:
        log.error("shutdown did not finish within %.1fs; exiting now", deadline_s)
        logging.shutdown()
        os._exit(WATCHDOG_EXIT)

    timer = threading.Timer(deadline_s, expire)
    timer.daemon = True
    timer.start()


def _server_class() -> type:
    import uvicorn

    class BoundedShutdownServer(uvicorn.Server):
        """uvicorn's server plus a hard deadline that starts at the first exit signal."""

        def __init__(self, config: uvicorn.Config, deadline_s: float) -> None:
            super().__init__(config)
            self._deadline_s = deadline_s

        def handle_exit(self, sig: int, frame: Any) -> None:
            if not self.should_exit:
                _watchdog(self._deadline_s)
            super().handle_exit(sig, frame)

    return BoundedShutdownServer


def _export_for_workers(settings: Settings, dev: bool) -> None:
    """Worker processes build their own Settings from the environment; hand them the
    command-line overrides that way."""
    os.environ["LADDER_HOST"] = settings.host
    os.environ["LADDER_PORT"] = str(settings.port)
    if dev:
        os.environ["LADDER_AUTH__DEV_MODE"] = "true"


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings host)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings port)")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default: settings workers); with the ONNX embedder they "
                          "share one load of the models and index"),
    ] = None,
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
    if workers:
        overrides["workers"] = workers
    settings = settings_or_exit(**overrides)
    if dev:
        settings = settings_or_exit(**overrides, auth={**settings.auth.model_dump(), "dev_mode": True})

    from retrieval.index.store import complete_versions

    if not complete_versions(settings.index_dir):
        # The usual first-run slip; said here in one line, before the server prints where
        # it listens and the lifespan fails with a traceback.
        fail(f"ladder could not start: no index under {settings.index_dir}; build one with: ladder ingest",
             code=START_FAILED_EXIT)

    import uvicorn

    from gateway.malloc_tuning import limit_arenas

    limit_arenas(settings.malloc_arenas)  # before any thread exists; workers inherit the env
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "access_log": False,  # ladder writes its own JSON request log
        "timeout_graceful_shutdown": drain_timeout(settings.shutdown_timeout_s),
        "lifespan": "on",
    }
    console.print(
        f"ladder listening on http://{settings.host}:{settings.port}  "
        f"(workers: {settings.workers}; docs: /docs, chat: /"
        f"{', anonymous dev mode' if settings.auth.dev_mode else ''})"
    )
    if settings.workers > 1:
        from gateway.cli.prefork import preforkable, serve_preforked

        if preforkable(settings):
            # Models and index loaded once here; the workers are forked and share them.
            raise typer.Exit(serve_preforked(settings, common, _server_class()))
        # The PyTorch backend (or a multi-threaded ONNX setting) cannot be shared across
        # a fork: uvicorn's supervisor starts each worker from an import string; every
        # worker re-reads settings from the environment and loads its own index and models.
        _export_for_workers(settings, dev)
        uvicorn.run("gateway.app:create_app", factory=True, workers=settings.workers, **common)
        return

    from gateway.app import create_app

    config = uvicorn.Config(create_app(settings), **common)
    server = _server_class()(config, deadline_s=settings.shutdown_timeout_s)
    server.run()
    if not server.started:
        raise typer.Exit(START_FAILED_EXIT)  # the lifespan failed; uvicorn has logged why


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
