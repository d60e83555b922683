"""Comparing two runs: per-metric and per-slice deltas with paired bootstrap CIs, and flips.

Deltas are ``candidate - baseline`` over the cases both runs scored (paired by
case id), so adding or removing golden cases between runs does not show up as
a change in quality; cases present in only one run are listed separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evals.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, paired_bootstrap_delta

OVERALL = "overall"


@dataclass(frozen=True)
class MetricDelta:
    scope: str  # "overall" or a slice name
    metric: str
    baseline: float | None  # each run's own value (all its cases)
    candidate: float | None
    delta: float | None  # paired: candidate - baseline over the common cases
    ci: Interval | None  # 95% paired bootstrap interval of ``delta``
    paired_n: int
    higher_is_better: bool

    def oriented(self) -> tuple[float, Interval] | None:
        """(delta, CI) turned so that negative always means worse."""
        if self.delta is None or self.ci is None:
            return None
        if self.higher_is_better:
            return self.delta, self.ci
        return -self.delta, Interval(-self.ci.high, -self.ci.low)

    @property
    def significantly_worse(self) -> bool:
        turned = self.oriented()
        return turned is not None and turned[1].high < 0

    @property
    def significantly_better(self) -> bool:
        turned = self.oriented()
        return turned is not None and turned[1].low > 0


@dataclass(frozen=True)
class Flip:
    case_id: str
    slice: str


@dataclass
class Comparison:
    deltas: list[MetricDelta]
    pass_to_fail: list[Flip] = field(default_factory=list)
    fail_to_pass: list[Flip] = field(default_factory=list)
    only_baseline: list[str] = field(default_factory=list)
    only_candidate: list[str] = field(default_factory=list)

    def get(self, metric: str, scope: str = OVERALL) -> MetricDelta | None:
        return next((d for d in self.deltas if d.metric == metric and d.scope == scope), None)


def _value(summary: dict[str, Any], scope: str, metric: str) -> float | None:
    table = summary["metrics"][OVERALL] if scope == OVERALL else summary["metrics"]["slices"].get(scope, {})
    entry = table.get(metric)
    return None if entry is None else entry.get("value")


def metric_delta(
    baseline: dict[str, Any], candidate: dict[str, Any], metric: str, scope: str = OVERALL, *,
    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
) -> MetricDelta:
    info = candidate["metric_info"].get(metric) or baseline["metric_info"].get(metric) or {}
    how = info.get("aggregate", "mean")
    base_cases, cand_cases = baseline["cases"], candidate["cases"]
    pairs = [
        (base_cases[cid]["scores"][metric], case["scores"][metric])
        for cid, case in cand_cases.items()
        if cid in base_cases
        and (scope == OVERALL or case["slice"] == scope)
        and case["scores"].get(metric) is not None
        and base_cases[cid]["scores"].get(metric) is not None
    ]
    paired = paired_bootstrap_delta(
        [p[0] for p in pairs], [p[1] for p in pairs], how, resamples=resamples, seed=seed
    )
    return MetricDelta(
        scope=scope, metric=metric,
        baseline=_value(baseline, scope, metric), candidate=_value(candidate, scope, metric),
        delta=paired.delta if paired else None, ci=paired.interval if paired else None,
        paired_n=paired.n if paired else 0, higher_is_better=bool(info.get("higher_is_better", True)),
    )


def compare_summaries(
    baseline: dict[str, Any], candidate: dict[str, Any], *,
    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
) -> Comparison:
    metrics = list(dict.fromkeys([*candidate["metric_info"], *baseline["metric_info"]]))
    slices = sorted(set(candidate["metrics"]["slices"]) | set(baseline["metrics"]["slices"]))
    deltas = [
        metric_delta(baseline, candidate, metric, scope, resamples=resamples, seed=seed)
        for scope in (OVERALL, *slices)
        for metric in metrics
        if _value(baseline, scope, metric) is not None or _value(candidate, scope, metric) is not None
    ]
    base_cases, cand_cases = baseline["cases"], candidate["cases"]
    comparison = Comparison(deltas=deltas)
    for cid, case in cand_cases.items():
        before = base_cases.get(cid)
        if before is None:
            comparison.only_candidate.append(cid)
        elif before["passed"] and not case["passed"]:
            comparison.pass_to_fail.append(Flip(cid, case["slice"]))
        elif not before["passed"] and case["passed"]:
            comparison.fail_to_pass.append(Flip(cid, case["slice"]))
    comparison.only_baseline = [cid for cid in base_cases if cid not in cand_cases]
    return comparison
