"""Provider types by name. Built-ins register exactly as a plugin would:

    from gateway.providers.registry import register_provider_type
    register_provider_type("my-llm", lambda name, options, settings: MyProvider(...))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.errors import SettingsError
from gateway.providers.base import Provider
from gateway.settings import Settings

ProviderFactory = Callable[[str, dict[str, Any], Settings], Provider]

_TYPES: dict[str, ProviderFactory] = {}


def register_provider_type(type_name: str, factory: ProviderFactory) -> None:
    _TYPES[type_name] = factory


def create_provider(type_name: str, name: str, options: dict[str, Any], settings: Settings) -> Provider:
    _register_builtins()
    try:
        factory = _TYPES[type_name]
    except KeyError:
        raise SettingsError(
            f"provider {name!r}: unknown type {type_name!r} (known: {', '.join(sorted(_TYPES))})"
        ) from None
    return factory(name, options, settings)


def _extractive(name: str, options: dict[str, Any], settings: Settings) -> Provider:
    from gateway.providers.extractive import ExtractiveProvider

    try:
        return ExtractiveProvider(name, **options)
    except TypeError as exc:  # an option the provider does not take: a typo in the routing file
        raise SettingsError(f"provider {name!r}: {exc}") from exc


def _openai(name: str, options: dict[str, Any], settings: Settings) -> Provider:
    from gateway.providers.openai_compat import OpenAICompatibleProvider

    unknown = set(options) - {"base_url", "api_key"}
    if unknown:
        raise SettingsError(f"provider {name!r}: unknown options {sorted(unknown)}")
    if not options.get("base_url"):
        raise SettingsError(f"provider {name!r}: base_url is required")
    return OpenAICompatibleProvider(
        name,
        base_url=str(options["base_url"]),
        api_key=options.get("api_key") or None,
        max_connections=settings.providers.max_connections,
    )


def _register_builtins() -> None:
    _TYPES.setdefault("extractive", _extractive)
    _TYPES.setdefault("openai", _openai)
