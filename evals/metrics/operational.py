"""Operational metrics: latency percentiles, tokens and cost per case.

Latency is the pipeline's own ``latency_ms`` (in-process) or the server's
reported latency (``--url``); p50/p95 use linear interpolation between order
statistics (numpy's default). Token counts and cost are per case, averaged;
an unpriced model (cost None) is left out of the cost average.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evals.metrics.base import Aggregate, MetricRegistry
from evals.schema import GoldenCase
from gateway.pipeline_types import PipelineResult


@dataclass(frozen=True)
class ResultField:
    name: str
    description: str
    read: Callable[[PipelineResult], float | None]
    aggregate: Aggregate = "mean"
    higher_is_better: bool = False

    def applies(self, case: GoldenCase) -> bool:
        return True

    def score(self, case: GoldenCase, result: PipelineResult) -> float | None:
        value = self.read(result)
        return None if value is None else float(value)


def _latency(result: PipelineResult) -> float:
    return result.latency_ms


def register(registry: MetricRegistry) -> None:
    registry.register(ResultField("latency_p50_ms", "median latency per case (ms)", _latency, "p50"))
    registry.register(ResultField("latency_p95_ms", "95th-percentile latency (ms)", _latency, "p95"))
    registry.register(ResultField(
        "prompt_tokens", "prompt tokens per case", lambda r: r.usage.prompt_tokens))
    registry.register(ResultField(
        "completion_tokens", "completion tokens per case", lambda r: r.usage.completion_tokens))
    registry.register(ResultField(
        "cost_usd", "cost per case (USD; unpriced models left out)", lambda r: r.usage.cost_usd))
