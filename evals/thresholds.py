"""The gate's thresholds: a data file (evals/thresholds.yaml), validated at load.

``floors`` are absolute bounds on a metric's value (its point estimate over all
cases, or over one slice's cases): ``{min: x}`` and/or ``{max: x}``.
``max_regression`` is the largest drop vs a baseline a metric may show *with
confidence*: see ``evals.gate_rules`` for the rule. Metric and slice names are
checked against the registered metrics and the golden-set slices, so a typo
fails the load instead of silently gating nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evals.errors import ThresholdsError
from evals.schema import SLICES

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bound(_Model):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a floor needs 'min' or 'max'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is above 'max'")
        return self

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


class Floors(_Model):
    overall: dict[str, Bound] = Field(default_factory=dict)
    slices: dict[str, dict[str, Bound]] = Field(default_factory=dict)


class Regressions(_Model):
    overall: dict[str, float] = Field(default_factory=dict)
    slices: dict[str, dict[str, float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _non_negative(self) -> Regressions:
        for scope in (self.overall, *self.slices.values()):
            for metric, allowed in scope.items():
                if allowed < 0:
                    raise ValueError(f"max_regression for {metric!r} must be >= 0")
        return self


class Thresholds(_Model):
    description: str | None = None
    floors: Floors = Field(default_factory=Floors)
    max_regression: Regressions = Field(default_factory=Regressions)

    def check_names(self, metrics: Iterable[str], slices: Iterable[str] = SLICES) -> None:
        known, known_slices = set(metrics), set(slices)
        scopes: list[tuple[str, Iterable[str]]] = [("floors.overall", self.floors.overall),
                                                   ("max_regression.overall", self.max_regression.overall)]
        for section, by_slice in (("floors", self.floors.slices),
                                  ("max_regression", self.max_regression.slices)):
            for name, table in by_slice.items():
                if name not in known_slices:
                    raise ThresholdsError(f"{section}.slices: unknown slice {name!r}")
                scopes.append((f"{section}.slices.{name}", table))
        for where, names in scopes:
            unknown = sorted(set(names) - known)
            if unknown:
                raise ThresholdsError(
                    f"{where}: unknown metric(s) {unknown} (known: {', '.join(sorted(known))})"
                )


def load_thresholds(path: Path = DEFAULT_THRESHOLDS, *, metrics: Iterable[str] | None = None) -> Thresholds:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThresholdsError(f"{path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ThresholdsError(f"{path}: not valid YAML ({exc})") from exc
    try:
        thresholds = Thresholds.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise ThresholdsError(f"{path}: {problems}") from exc
    if metrics is not None:
        try:
            thresholds.check_names(metrics)
        except ThresholdsError as exc:
            raise ThresholdsError(f"{path}: {exc}") from exc
    return thresholds
