"""Evaluation metrics: one module per family, all registered through ``MetricRegistry``."""

from __future__ import annotations

from evals.metrics import answer, operational, retrieval, safety
from evals.metrics.base import Aggregate, Metric, MetricRegistry
from evals.metrics.safety import PiiScanner

__all__ = ["Aggregate", "Metric", "MetricRegistry", "PiiScanner", "default_metrics"]


def default_metrics(*, k: int = retrieval.DEFAULT_K, pii_scanner: PiiScanner | None = None) -> MetricRegistry:
    """The built-in metrics, registered the way an extension would register its own."""
    registry = MetricRegistry()
    retrieval.register(registry, k=k)
    answer.register(registry)
    safety.register(registry, pii_scanner=pii_scanner)
    operational.register(registry)
    return registry
