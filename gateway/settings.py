"""The one settings object. Everything else receives configuration from it.

Sources, highest priority first: constructor arguments, environment variables
(prefix ``LADDER_``, nested groups with ``__``, e.g. ``LADDER_RETRIEVAL__TOP_K``),
a ``.env`` file, then a TOML file (``LADDER_CONFIG`` or ``./ladder.toml``).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as SourceError

from gateway.errors import SettingsError
from retrieval.config import RetrievalConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderSettings(_Group):
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama"
    )
    openai_api_key: SecretStr | None = None
    routing_file: Path = PACKAGE_DIR / "config" / "routing.yaml"
    pricing_file: Path = PACKAGE_DIR / "config" / "pricing.yaml"
    default_model: str = "ladder-extractive"
    request_timeout_s: float = Field(30.0, gt=0)
    max_connections: int = Field(100, ge=1)


class GuardSettings(_Group):
    policy_dir: Path = PROJECT_ROOT / "guardrails" / "policies"
    max_message_chars: int = Field(4000, ge=1)
    max_turns: int = Field(40, ge=1)
    max_total_tokens: int = Field(8000, ge=1)


class AuthSettings(_Group):
    # Anonymous local use; never on unless explicitly set.
    dev_mode: bool = False
    default_rpm: int = Field(120, ge=1)
    default_tpm: int = Field(200_000, ge=1)
    default_monthly_budget_usd: float | None = Field(None, ge=0)


class CacheSettings(_Group):
    enabled: bool = True
    ttl_s: float = Field(3600.0, gt=0)
    max_entries: int = Field(2048, ge=0)
    # Memory budget for cached answers (approximate bytes of the values held); the
    # oldest go first when either bound is reached. 0 turns the cache off.
    max_mb: float = Field(16.0, ge=0)


class PromptSettings(_Group):
    templates_dir: Path = PROJECT_ROOT / "prompts" / "templates"
    registry_file: Path | None = Field(
        None, description="Label registry; defaults to <data_dir>/prompt-registry.json"
    )
    default_name: str = "rag_answer"
    canary_share: float = Field(0.0, ge=0.0, le=1.0)


class TelemetrySettings(_Group):
    exporter: Literal["none", "console", "otlp-grpc", "otlp-http", "memory"] = "none"
    otlp_endpoint: str | None = None
    service_name: str = "ladder"
    capture_content: bool = False
    # Share of requests whose spans are recorded and exported (a caller's sampled
    # traceparent is honoured). Trace ids are made for every request either way.
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LADDER_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        validate_default=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    # glibc malloc arenas per serving process (gateway/malloc_tuning.py): fewer arenas,
    # flatter memory on a long-running server. MALLOC_ARENA_MAX in the environment wins.
    malloc_arenas: int = Field(2, ge=1, le=64)
    data_dir: Path = PROJECT_ROOT / "var"
    corpus_paths: list[Path] = Field(default_factory=lambda: [PROJECT_ROOT / "corpus"])
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    shutdown_timeout_s: float = Field(15.0, gt=0)

    retrieval: RetrievalConfig = RetrievalConfig()
    providers: ProviderSettings = ProviderSettings()
    guards: GuardSettings = GuardSettings()
    auth: AuthSettings = AuthSettings()
    cache: CacheSettings = CacheSettings()
    prompts: PromptSettings = PromptSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / "ladder.db"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def prompt_registry_file(self) -> Path:
        return self.prompts.registry_file or self.data_dir / "prompt-registry.json"

    @model_validator(mode="after")
    def _refuse_unsafe_combinations(self) -> Settings:
        if self.auth.dev_mode and self.host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError(
                "auth.dev_mode allows anonymous access and is only permitted when host is a "
                "loopback address (127.0.0.1, localhost, ::1)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("LADDER_CONFIG", "ladder.toml"))
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
            file_secret_settings,
        )


def _describe(error: dict[str, object]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    name = "LADDER_" + "__".join(loc).upper() if loc else "settings"
    value = error.get("input")
    shown = "" if isinstance(value, dict) or loc == [] else f" (got {value!r})"
    # An unknown field's value is never echoed: a misspelt secret field
    # ("openai_api_kye") still holds the secret.
    if error.get("type") == "extra_forbidden" or any(
        secret in name for secret in ("KEY", "SECRET", "TOKEN", "PASSWORD")
    ):
        shown = ""
    return f"{name}: {error.get('msg')}{shown}"


# Variables that carry the LADDER_ prefix but are not settings fields.
# LADDER_API_KEY is read by clients (`ladder eval run --url`), not by the server.
_NON_FIELD_VARS = {"LADDER_CONFIG", "LADDER_API_KEY"}


def _known_env_names() -> set[str]:
    names = set(_NON_FIELD_VARS)
    for name, field in Settings.model_fields.items():
        names.add(f"LADDER_{name.upper()}")
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for sub in annotation.model_fields:
                names.add(f"LADDER_{name.upper()}__{sub.upper()}")
    return names


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings, turning pydantic's report into one readable message.

    An unknown ``LADDER_*`` variable is an error too: a typo must not silently
    fall back to a default.
    """
    unknown = sorted(
        key for key in os.environ if key.startswith("LADDER_") and key not in _known_env_names()
    )
    if unknown:
        raise SettingsError(
            "invalid settings:\n  "
            + "\n  ".join(f"{key}: not a ladder setting" for key in unknown)
        )
    config = os.environ.get("LADDER_CONFIG")
    if config and not Path(config).is_file():
        raise SettingsError(f"LADDER_CONFIG points at {config!r}, which is not a file")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [_describe(err) for err in exc.errors()]  # type: ignore[arg-type]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from exc
    except SourceError as exc:
        # A list or group given in one variable must be JSON; pydantic-settings names
        # only the field and its source, never the value (which may be a secret).
        raise SettingsError(f"invalid settings:\n  {_describe_source_error(exc)}") from exc
    except tomllib.TOMLDecodeError as exc:
        toml_file = os.environ.get("LADDER_CONFIG") or "ladder.toml"
        raise SettingsError(f"{toml_file} is not valid TOML: {exc}") from exc


_SOURCE_FIELD = re.compile(r'field "([^"]+)" from source "(\w+)"')


def _describe_source_error(exc: SourceError) -> str:
    match = _SOURCE_FIELD.search(str(exc))
    if match is None:
        return str(exc)
    field, source = match.groups()
    where = " (in .env)" if source.startswith("DotEnv") else ""
    return (
        f"LADDER_{field.upper()}{where}: not valid JSON; a list or group given in one "
        f"variable must be JSON, e.g. LADDER_CORPUS_PATHS='[\"corpus\"]'"
    )
