"""The gate's decision: floors on the candidate run, regressions against a baseline.

Floor rule: the metric's point estimate (over all cases, or one slice's cases)
must satisfy ``min``/``max``. A metric with a floor but no applicable case in
the run fails ("not measured"): a gate must not pass on evidence it lacks.

Regression rule: over the cases both runs scored, the 95% paired percentile
bootstrap interval of delta = candidate - baseline is computed and turned so
that negative means worse (for lower-is-better metrics the sign flips). The
metric regresses when the interval's upper end is below ``-max_regression``:
the whole interval says the drop exceeds the tolerance. A noisy wobble, whose
interval straddles the tolerance, passes. Without a baseline, or with no case
in common, regression checks are skipped and the reason is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from evals.compare import OVERALL, metric_delta
from evals.stats import Interval
from evals.thresholds import Bound, Thresholds

_EPS = 1e-12


@dataclass(frozen=True)
class GateCheck:
    kind: Literal["floor", "regression"]
    scope: str
    metric: str
    passed: bool
    message: str
    value: float | None = None
    bound: str | None = None
    delta: float | None = None
    ci: Interval | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "scope": self.scope, "metric": self.metric,
                "passed": self.passed, "message": self.message, "value": self.value,
                "bound": self.bound, "delta": self.delta,
                "ci": self.ci.as_list() if self.ci else None}


@dataclass
class GateReport:
    checks: list[GateCheck]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def summary_line(self, label: str = "golden gate") -> str:
        floors = sum(1 for c in self.checks if c.kind == "floor")
        regressions = sum(1 for c in self.checks if c.kind == "regression")
        if self.passed:
            return f"{label} passed: {floors} floor(s), {regressions} regression check(s)"
        shown = "; ".join(c.message for c in self.failures[:4])
        more = f" (+{len(self.failures) - 4} more)" if len(self.failures) > 4 else ""
        return f"{label} FAILED: {shown}{more}"

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [c.as_dict() for c in self.checks],
                "notes": self.notes}


def _value(summary: dict[str, Any], scope: str, metric: str) -> float | None:
    table = summary["metrics"][OVERALL] if scope == OVERALL else summary["metrics"]["slices"].get(scope, {})
    entry = table.get(metric)
    return None if entry is None else entry.get("value")


def check_floor(summary: dict[str, Any], scope: str, metric: str, bound: Bound) -> GateCheck:
    where = metric if scope == OVERALL else f"{metric} [{scope}]"
    value = _value(summary, scope, metric)
    if value is None:
        return GateCheck("floor", scope, metric, False,
                         f"{where} not measured (no applicable case); floor {bound.describe()}",
                         bound=bound.describe())
    ok = (bound.min is None or value >= bound.min - _EPS) and (bound.max is None or value <= bound.max + _EPS)
    verb = "meets" if ok else "misses"
    return GateCheck("floor", scope, metric, ok, f"{where} = {value:.4g} {verb} floor {bound.describe()}",
                     value=value, bound=bound.describe())


def check_regression(
    baseline: dict[str, Any], candidate: dict[str, Any], scope: str, metric: str, allowed: float,
) -> GateCheck | None:
    md = metric_delta(baseline, candidate, metric, scope)
    turned = md.oriented()
    if turned is None:
        return None
    _, ci = turned
    where = metric if scope == OVERALL else f"{metric} [{scope}]"
    regressed = ci.high < -allowed - _EPS
    text = (f"{where} delta {md.delta:+.4g} (95% CI {md.ci.low:+.4g}..{md.ci.high:+.4g}, "  # type: ignore[union-attr]
            f"n={md.paired_n}) vs baseline {md.baseline if md.baseline is None else round(md.baseline, 4)}")
    message = (f"{text}: significant regression beyond {allowed:g}" if regressed
               else f"{text}: within tolerance {allowed:g}")
    return GateCheck("regression", scope, metric, not regressed, message, value=md.candidate,
                     bound=f"max drop {allowed:g}", delta=md.delta, ci=md.ci)


def evaluate_gate(
    candidate: dict[str, Any], thresholds: Thresholds, baseline: dict[str, Any] | None = None,
) -> GateReport:
    report = GateReport(checks=[])
    for metric, bound in thresholds.floors.overall.items():
        report.checks.append(check_floor(candidate, OVERALL, metric, bound))
    for slice_name, table in thresholds.floors.slices.items():
        for metric, bound in table.items():
            report.checks.append(check_floor(candidate, slice_name, metric, bound))
    if baseline is None:
        report.notes.append("no baseline: regression checks skipped")
        return report
    scopes = [(OVERALL, thresholds.max_regression.overall),
              *thresholds.max_regression.slices.items()]
    for scope, tolerances in scopes:
        for metric, allowed in tolerances.items():
            check = check_regression(baseline, candidate, scope, metric, allowed)
            if check is None:
                report.notes.append(f"{metric} [{scope}]: no case scored by both runs; not compared")
            else:
                report.checks.append(check)
    return report
