"""report.html: one self-contained page (inline CSS and SVG, no scripts, no CDN)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from evals.charts import Bar, delta_chart, rate_chart
from evals.compare import OVERALL, Comparison, compare_summaries
from evals.thresholds import Thresholds

TEMPLATES = Path(__file__).resolve().parent / "templates"
WORST_CASES = 25


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _rate_like(info: dict[str, Any], entry: dict[str, Any]) -> bool:
    value = entry.get("value")
    return info.get("aggregate") == "mean" and value is not None and 0.0 <= value <= 1.0


def _worst(records: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    def badness(r: dict[str, Any]) -> tuple[int, float, str]:
        scores = [v for k, v in r["scores"].items()
                  if v is not None and k in {"fact_recall", "recall_at_5", "groundedness", "mrr"}]
        return (0 if not r["passed"] else 1, min(scores) if scores else 1.0, r["id"])
    return sorted(records, key=badness)[:limit]


def render_report(
    summary: dict[str, Any],
    records: list[dict[str, Any]],
    *,
    baseline: dict[str, Any] | None = None,
    thresholds: Thresholds | None = None,
    gate: dict[str, Any] | None = None,
) -> str:
    info = summary["metric_info"]
    overall = summary["metrics"][OVERALL]
    floors = thresholds.floors.overall if thresholds else {}
    comparison: Comparison | None = compare_summaries(baseline, summary) if baseline else None
    rows = []
    bars = []
    for name, entry in overall.items():
        bound = floors.get(name)
        value = entry["value"]
        missed = bound is not None and value is not None and (
            (bound.min is not None and value < bound.min) or (bound.max is not None and value > bound.max))
        delta = comparison.get(name) if comparison else None
        rows.append({
            "name": name, "description": info.get(name, {}).get("description", ""),
            "value": _fmt(value, 4), "ci": " – ".join(_fmt(v, 4) for v in entry["ci"]) if entry["ci"] else "–",
            "n": entry["n"], "floor": bound.describe() if bound else "", "missed": missed,
            "baseline": _fmt(delta.baseline, 4) if delta else "",
            "delta": f"{delta.delta:+.4f}" if delta and delta.delta is not None else "",
            "delta_ci": (f"{delta.ci.low:+.4f} – {delta.ci.high:+.4f}" if delta and delta.ci else ""),
            "worse": bool(delta and delta.significantly_worse),
        })
        if _rate_like(info.get(name, {}), entry):
            ci = entry["ci"] or [None, None]
            marker = None if bound is None else (bound.min if bound.min is not None else bound.max)
            bars.append(Bar(name, value, ci[0], ci[1], marker, bad=missed))
    delta_svg = ""
    if comparison:
        delta_bars = []
        for d in comparison.deltas:
            if d.scope != OVERALL or d.delta is None or not _rate_like(info.get(d.metric, {}), overall.get(d.metric, {})):
                continue
            delta_bars.append(Bar(d.metric, d.delta, d.ci.low if d.ci else None,
                                  d.ci.high if d.ci else None, bad=d.significantly_worse))
        delta_svg = delta_chart(delta_bars, "delta vs baseline") if delta_bars else ""
    slice_metrics = [n for n in info if any(n in t for t in summary["metrics"]["slices"].values())
                     and info[n]["aggregate"] == "mean" and n not in {"prompt_tokens", "completion_tokens", "cost_usd"}]
    slices = []
    for name, table in summary["metrics"]["slices"].items():
        count = summary["counts"]["slices"].get(name, {"cases": 0, "passed": 0})
        slices.append({
            "name": name, "cases": count["cases"], "passed": count["passed"],
            "cells": [_fmt(table[m]["value"]) if m in table else "" for m in slice_metrics],
        })
    meta = summary["metadata"]
    return _environment().get_template("report.html").render(
        meta=meta, counts=summary["counts"], rows=rows,
        chart=rate_chart(bars, "metric values with 95% CI") if bars else "",
        delta_chart=delta_svg, baseline_meta=baseline["metadata"] if baseline else None,
        slice_metrics=slice_metrics, slices=slices, worst=_worst(records, WORST_CASES),
        flips=comparison.pass_to_fail if comparison else [],
        fixes=comparison.fail_to_pass if comparison else [], gate=gate,
    )
