"""Model prices, read from a dated data file (gateway/config/pricing.yaml).

Each model carries a list of price entries with the date each took effect, so a
price change is a new entry, not an edit: a request is priced with the entry in
force on the day it was made, and old ledger rows stay explainable.

Model keys are exact ids ("gpt-4o"), aliases of one ("gpt-4o-2024-08-06"), or
shell-style patterns ("ollama/*") matched against the model id and against
"<provider>/<model>"; the most specific pattern wins. A model the file does not
price costs ``None`` - recorded as unknown with one warning per model - never 0
by accident and never a crash.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.usage.errors import PricingError

logger = logging.getLogger(__name__)

PER_TOKENS = 1_000_000


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    effective: date = Field(description="First UTC day this price applies")
    input_per_mtok: float = Field(ge=0, description="USD per 1M prompt tokens")
    output_per_mtok: float = Field(ge=0, description="USD per 1M completion tokens")
    note: str | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        ) / PER_TOKENS


class ModelPricing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    aliases: list[str] = Field(default_factory=list)
    prices: list[Price] = Field(min_length=1)

    @model_validator(mode="after")
    def _dated_in_order(self) -> ModelPricing:
        days = [p.effective for p in self.prices]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("prices must be listed oldest first, one entry per effective date")
        return self

    def at(self, day: date) -> Price | None:
        current = None
        for price in self.prices:
            if price.effective <= day:
                current = price
        return current


class PricingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    currency: Literal["USD"] = "USD"
    models: dict[str, ModelPricing]

    @model_validator(mode="after")
    def _aliases_unique(self) -> PricingFile:
        seen: dict[str, str] = {}
        for name, entry in self.models.items():
            for alias in entry.aliases:
                owner = seen.get(alias) or (alias if alias in self.models else None)
                if owner is not None:
                    raise ValueError(f"alias {alias!r} of {name!r} is already used by {owner!r}")
                seen[alias] = name
        return self


def _is_pattern(key: str) -> bool:
    return any(ch in key for ch in "*?[")


class PriceTable:
    """Looks up the price in force for a model on a day. Thread-safe, read-only."""

    def __init__(self, pricing: PricingFile):
        self._pricing = pricing
        self._exact: dict[str, ModelPricing] = {}
        for name, entry in pricing.models.items():
            if not _is_pattern(name):
                self._exact[name] = entry
            for alias in entry.aliases:
                self._exact[alias] = entry
        # Longest literal part first, so "ollama/llama3*" beats "ollama/*".
        self._patterns = sorted(
            ((name, entry) for name, entry in pricing.models.items() if _is_pattern(name)),
            key=lambda item: -len(item[0].replace("*", "").replace("?", "")),
        )
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PricingError(f"cannot read pricing file {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise PricingError(f"pricing file {path} is not valid YAML: {exc}") from exc
        try:
            return cls(PricingFile.model_validate(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise PricingError(f"pricing file {path} is invalid: {problems}") from exc

    @property
    def models(self) -> list[str]:
        return list(self._pricing.models)

    def _entry(self, model: str, provider: str | None) -> ModelPricing | None:
        candidates = [model] + ([f"{provider}/{model}"] if provider else [])
        for candidate in candidates:
            if candidate in self._exact:
                return self._exact[candidate]
        for pattern, entry in self._patterns:
            if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
                return entry
        return None

    def price_for(
        self, model: str, *, provider: str | None = None, at: datetime | date | None = None
    ) -> Price | None:
        """The price in force for ``model`` at ``at`` (default: now, UTC); None if unknown."""
        day = _utc_day(at)
        entry = self._entry(model, provider)
        price = entry.at(day) if entry is not None else None
        if price is None:
            self._warn_once(model, provider, day, known=entry is not None)
        return price

    def cost(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        provider: str | None = None,
        at: datetime | date | None = None,
    ) -> float | None:
        price = self.price_for(model, provider=provider, at=at)
        return None if price is None else price.cost(prompt_tokens, completion_tokens)

    def _warn_once(self, model: str, provider: str | None, day: date, *, known: bool) -> None:
        label = f"{provider}/{model}" if provider else model
        with self._warn_lock:
            if label in self._warned:
                return
            self._warned.add(label)
        if known:
            logger.warning(
                "no price for model %s in force on %s; cost recorded as null", label, day
            )
        else:
            logger.warning("model %s is not in the pricing file; cost recorded as null", label)


def _utc_day(at: datetime | date | None) -> date:
    if at is None:
        return datetime.now(UTC).date()
    if isinstance(at, datetime):
        if at.tzinfo is not None:
            at = at.astimezone(UTC)
        return at.date()
    return at
