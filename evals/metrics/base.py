"""The Metric seam and the registry the built-in metrics register through.

A metric scores one case's result (``score``) and says how the per-case scores
of a set of cases combine into one number (``aggregate``): the mean for rates
and averages, the sum for counts (leaks, violations), a percentile for latency.
``score`` returns None when the metric has nothing to measure on that result
(e.g. groundedness of a refusal); such cases are left out of the aggregate.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Protocol, runtime_checkable

from evals.schema import GoldenCase
from gateway.pipeline_types import PipelineResult

Aggregate = Literal["mean", "sum", "p50", "p95"]


@runtime_checkable
class Metric(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def higher_is_better(self) -> bool:
        """For compare and gate: which direction is a regression."""
        ...

    @property
    def aggregate(self) -> Aggregate: ...

    def applies(self, case: GoldenCase) -> bool: ...

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None: ...


class MetricRegistry:
    """Metrics by name, in registration order (the order reports show them in)."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def register(self, metric: Metric) -> Metric:
        if not isinstance(metric, Metric):
            raise TypeError(f"{metric!r} does not implement the Metric protocol")
        if metric.name in self._metrics:
            raise ValueError(f"a metric named {metric.name!r} is already registered")
        self._metrics[metric.name] = metric
        return metric

    def get(self, name: str) -> Metric:
        try:
            return self._metrics[name]
        except KeyError:
            known = ", ".join(self._metrics) or "none"
            raise KeyError(f"no metric named {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return list(self._metrics)

    def __iter__(self) -> Iterator[Metric]:
        return iter(list(self._metrics.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def __len__(self) -> int:
        return len(self._metrics)
