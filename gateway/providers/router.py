"""Routing: model alias -> ordered provider targets, with retries, breaker and fallback.

Retries use exponential backoff with full jitter (AWS Architecture Blog,
"Exponential Backoff and Jitter", 2015): sleep uniform(0, min(cap, base * 2**n)).
A Retry-After longer than the cap is not waited for: the next target is tried
instead, since holding a user's request for tens of seconds is worse than
falling back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from gateway.errors import NotFoundError, ProviderUnavailable, SettingsError
from gateway.providers.base import Provider, ProviderRequest, ProviderResponse, StreamDelta
from gateway.providers.circuit import CircuitBreaker, State
from gateway.providers.errors import ProviderError, ProviderStreamError
from gateway.providers.registry import create_provider
from gateway.settings import Settings

log = logging.getLogger("ladder.router")

_REF = re.compile(r"^\$\{settings\.([a-z0-9_.]+)\}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetConfig(_Strict):
    provider: str
    model: str
    timeout_s: float | None = Field(None, gt=0)
    retries: int = Field(0, ge=0, le=5)


class AliasConfig(_Strict):
    description: str = ""
    targets: list[TargetConfig] = Field(default_factory=list)
    fallback: str | None = None


class CircuitConfig(_Strict):
    failure_threshold: int = Field(5, ge=1)
    cooldown_s: float = Field(30.0, gt=0)


class BackoffConfig(_Strict):
    base_s: float = Field(0.2, ge=0)
    max_s: float = Field(2.0, ge=0)


class RoutingConfig(_Strict):
    providers: dict[str, dict[str, Any]]
    models: dict[str, AliasConfig]
    fallback_provider: str | None = None
    circuit: CircuitConfig = CircuitConfig()
    backoff: BackoffConfig = BackoffConfig()


class RouterObserver(Protocol):
    def on_retry(self, provider: str, error: ProviderError) -> None: ...
    def on_error(self, provider: str, error: ProviderError) -> None: ...
    def on_fallback(self, alias: str, from_provider: str, to_provider: str) -> None: ...
    def on_breaker_change(self, provider: str, state: State) -> None: ...


class _NullObserver:
    def on_retry(self, provider: str, error: ProviderError) -> None: ...
    def on_error(self, provider: str, error: ProviderError) -> None: ...
    def on_fallback(self, alias: str, from_provider: str, to_provider: str) -> None: ...
    def on_breaker_change(self, provider: str, state: State) -> None: ...


@dataclass(frozen=True)
class Target:
    provider: str
    model: str
    timeout_s: float
    retries: int


@dataclass
class Route:
    alias: str
    provider: str
    model: str
    fallback_used: bool
    attempts: int
    errors: list[str] = field(default_factory=list)


_MISSING = object()


def _resolve(value: Any, settings: Settings) -> Any:
    """``${settings.a.b}`` -> that setting's value (None when it is unset). A reference to a
    setting that does not exist is a typo in the routing file, not an unset value."""
    if isinstance(value, str) and (match := _REF.match(value)):
        current: Any = settings
        for part in match.group(1).split("."):
            current = getattr(current, part, _MISSING)
            if current is _MISSING:
                raise SettingsError(f"routing: {value} names no setting ({part!r} does not exist)")
        if isinstance(current, SecretStr):
            return current.get_secret_value()
        return current
    return value


def load_routing_config(path: Path) -> RoutingConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"routing file {path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"routing file {path}: invalid YAML: {exc}") from exc
    try:
        return RoutingConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"routing file {path}: {problems}") from exc


class Router:
    def __init__(
        self,
        config: RoutingConfig,
        settings: Settings,
        *,
        observer: RouterObserver | None = None,
        providers: dict[str, Provider] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._settings = settings
        self._observer: RouterObserver = observer or _NullObserver()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.providers: dict[str, Provider] = dict(providers or {})
        self.unconfigured: dict[str, str] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._build_providers()

    def _build_providers(self) -> None:
        for name, spec in self._config.providers.items():
            if name in self.providers:
                continue
            options = {k: _resolve(v, self._settings) for k, v in spec.items() if k != "type"}
            if "type" not in spec:
                raise SettingsError(f"routing: provider {name!r} has no type")
            if any(v is None for v in options.values()) and spec["type"] != "extractive":
                missing = [k for k, v in options.items() if v is None and k != "api_key"]
                if missing:
                    # Declared but not configured (e.g. no upstream URL): its targets are skipped.
                    self.unconfigured[name] = f"missing {', '.join(missing)}"
                    continue
            self.providers[name] = create_provider(spec["type"], name, options, self._settings)
        for name in self.providers:
            self._breakers[name] = CircuitBreaker(
                failure_threshold=self._config.circuit.failure_threshold,
                cooldown_s=self._config.circuit.cooldown_s,
                on_change=lambda state, n=name: self._observer.on_breaker_change(n, state),
            )
        for alias, spec in self._config.models.items():
            for target in spec.targets:
                if target.provider not in self.providers and target.provider not in self.unconfigured:
                    raise SettingsError(f"routing: model {alias!r} names unknown provider {target.provider!r}")

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()
        for name, why in self.unconfigured.items():
            log.warning("provider %s not configured (%s); its targets are skipped", name, why)

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()

    # -- introspection -----------------------------------------------------------------------
    def aliases(self) -> dict[str, AliasConfig]:
        return dict(self._config.models)

    def breaker_states(self) -> dict[str, State]:
        return {name: breaker.state for name, breaker in self._breakers.items()}

    def targets(self, alias: str) -> list[Target]:
        try:
            spec = self._config.models[alias]
        except KeyError:
            raise NotFoundError(
                f"unknown model {alias!r}; available: {', '.join(sorted(self._config.models))}",
                code="model_not_found",
                param="model",
            ) from None
        default_timeout = self._settings.providers.request_timeout_s
        targets = [
            Target(t.provider, t.model, t.timeout_s or default_timeout, t.retries)
            for t in spec.targets
            if t.provider in self.providers
        ]
        fallback = spec.fallback or self._config.fallback_provider
        if fallback and fallback in self.providers and all(t.provider != fallback for t in targets):
            targets.append(Target(fallback, fallback_model(fallback), default_timeout, 0))
        return targets

    def _backoff(self, attempt: int) -> float:
        cap = min(self._config.backoff.max_s, self._config.backoff.base_s * 2**attempt)
        return self._rng.uniform(0, cap)

    async def _wait_before_retry(self, error: ProviderError, attempt: int) -> bool:
        """Sleep before the next attempt; False when the upstream asks for too long a wait."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self._config.backoff.max_s:
                return False
            await self._sleep(retry_after)
        else:
            await self._sleep(self._backoff(attempt))
        return True

    # -- calls -------------------------------------------------------------------------------
    async def complete(
        self, alias: str, make_request: Callable[[Target], ProviderRequest]
    ) -> tuple[ProviderResponse, Route]:
        targets = self.targets(alias)
        errors: list[str] = []
        attempts = 0
        for index, target in enumerate(targets):
            is_last = index == len(targets) - 1
            breaker = self._breakers[target.provider]
            if not breaker.allow() and not is_last:
                errors.append(f"{target.provider}: circuit open")
                continue
            provider = self.providers[target.provider]
            for attempt in range(target.retries + 1):
                attempts += 1
                try:
                    response = await provider.complete(make_request(target), timeout=target.timeout_s)
                except ProviderError as exc:
                    errors.append(f"{target.provider}: {exc}")
                    if exc.retryable and attempt < target.retries:
                        self._observer.on_retry(target.provider, exc)
                        if await self._wait_before_retry(exc, attempt):
                            continue
                    self._observer.on_error(target.provider, exc)
                    breaker.record_failure()
                    break
                breaker.record_success()
                if index > 0:
                    self._observer.on_fallback(alias, targets[0].provider, target.provider)
                return response, Route(alias, target.provider, target.model, index > 0, attempts, errors)
        raise ProviderUnavailable(f"every provider for {alias!r} failed: {'; '.join(errors)}")

    async def stream(
        self,
        alias: str,
        make_request: Callable[[Target], ProviderRequest],
        *,
        exclude: frozenset[str] = frozenset(),
    ) -> tuple[AsyncIterator[StreamDelta], Route]:
        """Open a stream, falling back until one target yields its first delta.

        After the first delta has been handed out the router cannot fall back by
        itself; a later failure surfaces as ProviderStreamError. A caller that has
        not shown any of the output yet may open a new stream that ``exclude``s the
        providers that failed.
        """
        every = self.targets(alias)
        primary = every[0].provider if every else ""
        targets = [t for t in every if t.provider not in exclude]
        errors: list[str] = [f"{name}: broke mid-stream" for name in sorted(exclude)]
        attempts = 0
        for index, target in enumerate(targets):
            is_last = index == len(targets) - 1
            breaker = self._breakers[target.provider]
            if not breaker.allow() and not is_last:
                errors.append(f"{target.provider}: circuit open")
                continue
            provider = self.providers[target.provider]
            for attempt in range(target.retries + 1):
                attempts += 1
                iterator = provider.stream(make_request(target), timeout=target.timeout_s).__aiter__()
                try:
                    first = await iterator.__anext__()
                except StopAsyncIteration:
                    first = StreamDelta(finish_reason="stop")
                except ProviderError as exc:
                    errors.append(f"{target.provider}: {exc}")
                    if exc.retryable and attempt < target.retries:
                        self._observer.on_retry(target.provider, exc)
                        if await self._wait_before_retry(exc, attempt):
                            continue
                    self._observer.on_error(target.provider, exc)
                    breaker.record_failure()
                    break
                fallback = target.provider != primary
                if fallback:
                    self._observer.on_fallback(alias, primary, target.provider)
                route = Route(alias, target.provider, target.model, fallback, attempts, errors)
                return self._relay(first, iterator, breaker, target.provider), route
        raise ProviderUnavailable(f"every provider for {alias!r} failed: {'; '.join(errors)}")

    async def _relay(
        self,
        first: StreamDelta,
        rest: AsyncIterator[StreamDelta],
        breaker: CircuitBreaker,
        provider: str,
    ) -> AsyncIterator[StreamDelta]:
        yield first
        try:
            async for delta in rest:
                yield delta
        except ProviderError as exc:
            breaker.record_failure()
            self._observer.on_error(provider, exc)
            raise ProviderStreamError(str(exc), provider=provider) from exc
        breaker.record_success()


def fallback_model(provider: str) -> str:
    return "ladder-extractive" if provider == "extractive" else provider
