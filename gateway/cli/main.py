"""The ``ladder`` command. Each sub-command lives in its own module and registers itself.

Heavy imports (torch, faiss, the app) happen inside the commands, so ``--help``
stays instant.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="ladder",
    help="ladder: a grounded assistant for job-role blueprints (KPIs, skills, goals, career paths).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules exposing ``register(app: typer.Typer) -> None``; order is the order in --help.
COMMAND_MODULES = [
    "gateway.cli.serve",
    "gateway.cli.ingest",
    "gateway.cli.search",
    "gateway.cli.ask",
    "gateway.cli.prompts",
    "gateway.cli.keys",
    "gateway.cli.usage",
    "gateway.cli.eval",
]

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


if __name__ == "__main__":
    app()
