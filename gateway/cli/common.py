"""Helpers shared by CLI commands: settings loading with a readable failure."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from gateway.errors import SettingsError
from gateway.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc), code=2)
