"""Rich tables for the eval CLI: a run's metrics, a comparison, a gate verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evals.compare import OVERALL, Comparison, MetricDelta
from evals.gate_rules import GateReport


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(ci: list[float] | None) -> str:
    return "–" if not ci else f"{ci[0]:.3f} – {ci[1]:.3f}"


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    meta, counts = summary["metadata"], summary["counts"]
    console.print(
        f"[bold]{meta['prompt']}[/] · model {meta['model']} · {meta['mode']} · "
        f"{counts['passed']}/{counts['cases']} cases passed"
        + (f" · [red]{counts['errors']} errors[/]" if counts["errors"] else "")
        + f" · {meta['duration_s']:.1f} s"
    )
    table = Table(title="metrics (all cases)")
    for column in ("metric", "value", "95% CI", "n"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, entry in summary["metrics"][OVERALL].items():
        table.add_row(name, _num(entry["value"]), _ci(entry["ci"]), str(entry["n"]))
    console.print(table)
    failing = [name for name, c in summary["counts"]["slices"].items() if c["passed"] < c["cases"]]
    if failing:
        slices = summary["counts"]["slices"]
        console.print("slices with failures: " + ", ".join(
            f"{n} ({slices[n]['cases'] - slices[n]['passed']}/{slices[n]['cases']})" for n in failing))


def _delta_row(d: MetricDelta) -> list[str]:
    if d.delta is None or d.ci is None:
        return [_num(d.baseline), _num(d.candidate), "–", "–", "not comparable"]
    verdict = ("[red]worse[/]" if d.significantly_worse else
               "[green]better[/]" if d.significantly_better else "no significant change")
    return [_num(d.baseline), _num(d.candidate), f"{d.delta:+.4f}",
            f"{d.ci.low:+.4f} – {d.ci.high:+.4f}", verdict]


def print_comparison(console: Console, comparison: Comparison, *, all_slices: bool = False) -> None:
    columns = ("baseline", "candidate", "delta", "95% CI (paired)", "verdict")
    overall = Table(title="overall: candidate - baseline")
    overall.add_column("metric")
    for column in columns:
        overall.add_column(column, justify="right")
    for d in comparison.deltas:
        if d.scope == OVERALL:
            overall.add_row(d.metric, *_delta_row(d))
    console.print(overall)
    per_slice = Table(title="per slice" + ("" if all_slices else " (significant changes only)"))
    per_slice.add_column("slice")
    per_slice.add_column("metric")
    for column in columns:
        per_slice.add_column(column, justify="right")
    rows = [d for d in comparison.deltas if d.scope != OVERALL
            and (all_slices or d.significantly_worse or d.significantly_better)]
    for d in rows:
        per_slice.add_row(d.scope, d.metric, *_delta_row(d))
    if rows:
        console.print(per_slice)
    else:
        console.print("per slice: no significant change")
    for title, flips, style in (("pass → fail", comparison.pass_to_fail, "red"),
                                ("fail → pass", comparison.fail_to_pass, "green")):
        if flips:
            console.print(f"[{style}]{title} ({len(flips)}):[/] "
                          + escape(", ".join(f"{f.case_id} [{f.slice}]" for f in flips)))
        else:
            console.print(f"{title}: none")
    if comparison.only_baseline or comparison.only_candidate:
        console.print(f"cases only in baseline: {len(comparison.only_baseline)}, "
                      f"only in candidate: {len(comparison.only_candidate)} (not compared)")


def print_gate(console: Console, report: GateReport) -> None:
    table = Table(title="release gate")
    for column in ("check", "scope", "metric", "result", "detail"):
        table.add_column(column)
    # Per-slice rules add ~200 checks: passing ones are counted here, not listed.
    shown = [c for c in report.checks if c.scope == "overall" or not c.passed]
    for check in shown:
        result = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
        table.add_row(check.kind, check.scope, check.metric, result, escape(check.message))
    console.print(table)
    hidden = len(report.checks) - len(shown)
    if hidden:
        console.print(f"{hidden} per-slice check(s) passed (not listed; a failing one always is)")
    for note in report.notes:
        console.print(f"note: {escape(note)}")
    console.print(escape(report.summary_line()), style="green" if report.passed else "bold red")
