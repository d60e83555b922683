"""Aggregates and percentile-bootstrap confidence intervals over cases.

The percentile bootstrap (Efron & Tibshirani, *An Introduction to the
Bootstrap*, 1993, ch. 13): resample the n per-case scores with replacement
``resamples`` times, compute the statistic on each resample, and take the
2.5th and 97.5th percentiles of those statistics as the 95% interval. Cases,
not repeats, are the unit: the golden set is a sample of the questions users
ask. The seed is fixed so the same scores always give the same interval.

The paired version resamples *case indices* once and applies them to both runs,
so the interval of the difference reflects only how the two runs differ on the
same cases, not how hard the cases are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evals.metrics.base import Aggregate

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20_240_917
DEFAULT_CONFIDENCE = 0.95


def aggregate(values: np.ndarray, how: Aggregate, axis: int = -1) -> np.ndarray:
    if how == "mean":
        return np.mean(values, axis=axis)
    if how == "sum":
        return np.sum(values, axis=axis)
    if how == "p50":
        return np.percentile(values, 50, axis=axis)
    if how == "p95":
        return np.percentile(values, 95, axis=axis)
    raise ValueError(f"unknown aggregate {how!r}")


def point(values: Sequence[float], how: Aggregate) -> float | None:
    if not values:
        return None
    return float(aggregate(np.asarray(values, dtype=float), how))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(resamples, n))


def _percentiles(stats: np.ndarray, confidence: float) -> Interval:
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return Interval(float(low), float(high))


def bootstrap_ci(
    values: Sequence[float],
    how: Aggregate = "mean",
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Interval | None:
    """Percentile-bootstrap interval of ``aggregate(values)``; None for no values."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be within (0, 1)")
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    if len(data) == 1:
        return Interval(float(data[0]), float(data[0]))
    stats = aggregate(data[_indices(len(data), resamples, seed)], how, axis=1)
    return _percentiles(stats, confidence)


@dataclass(frozen=True)
class PairedDelta:
    delta: float  # aggregate(candidate) - aggregate(baseline)
    interval: Interval
    n: int


def paired_bootstrap_delta(
    baseline: Sequence[float],
    candidate: Sequence[float],
    how: Aggregate = "mean",
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairedDelta | None:
    """Bootstrap the difference of aggregates over the same cases (position i = case i)."""
    if len(baseline) != len(candidate):
        raise ValueError("paired samples need the same number of cases")
    if not baseline:
        return None
    base = np.asarray(baseline, dtype=float)
    cand = np.asarray(candidate, dtype=float)
    delta = float(aggregate(cand, how) - aggregate(base, how))
    if len(base) == 1:
        return PairedDelta(delta, Interval(delta, delta), 1)
    idx = _indices(len(base), resamples, seed)
    stats = aggregate(cand[idx], how, axis=1) - aggregate(base[idx], how, axis=1)
    return PairedDelta(delta, _percentiles(stats, confidence), len(base))
