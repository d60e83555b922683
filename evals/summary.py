"""From case scores to the two files a run leaves: results.jsonl rows and summary.json.

summary.json layout (``SUMMARY_FORMAT`` 1)::

    format, metadata {...}, counts {cases, passed, failed, errors, slices {slice: {cases, passed}}},
    metric_info {name: {description, aggregate, higher_is_better}},
    metrics {overall: {name: {value, ci: [low, high], n}}, slices: {slice: {name: {...}}}},
    cases {id: {slice, passed, scores {name: value}}}

Per-case scores are kept in the summary so that ``compare`` and ``gate`` can
run the paired bootstrap from a summary alone (a stored baseline is one file).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from evals.metrics.base import MetricRegistry
from evals.scoring import CaseScore
from evals.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_ci, point

SUMMARY_FORMAT = 1
# Enough of a chunk to recognise it in the report; the full text is in the index.
SNIPPET_CHARS = 400


def _entry(values: list[float], how: Any, resamples: int, seed: int) -> dict[str, Any]:
    ci = bootstrap_ci(values, how, resamples=resamples, seed=seed)
    return {"value": point(values, how), "ci": ci.as_list() if ci else None, "n": len(values)}


def metric_values(
    scores: Sequence[CaseScore], metrics: MetricRegistry, *, resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    def table(group: Sequence[CaseScore]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for metric in metrics:
            values = [s.scores[metric.name] for s in group if s.scores.get(metric.name) is not None]
            if values:
                out[metric.name] = _entry(values, metric.aggregate, resamples, seed)  # type: ignore[arg-type]
        return out

    by_slice: dict[str, list[CaseScore]] = defaultdict(list)
    for score in scores:
        by_slice[score.case.slice].append(score)
    return {
        "overall": table(scores),
        "slices": {name: table(group) for name, group in sorted(by_slice.items())},
    }


def counts(scores: Sequence[CaseScore]) -> dict[str, Any]:
    slices: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "passed": 0})
    for score in scores:
        slices[score.case.slice]["cases"] += 1
        slices[score.case.slice]["passed"] += int(score.passed)
    passed = sum(s.passed for s in scores)
    return {
        "cases": len(scores),
        "passed": passed,
        "failed": len(scores) - passed,
        "errors": sum(1 for s in scores if any(a.error is not None for a in s.attempts)),
        "slices": dict(sorted(slices.items())),
    }


def metric_info(metrics: MetricRegistry) -> dict[str, Any]:
    return {
        m.name: {"description": m.description, "aggregate": m.aggregate,
                 "higher_is_better": m.higher_is_better}
        for m in metrics
    }


def build_summary(
    scores: Sequence[CaseScore], metrics: MetricRegistry, metadata: dict[str, Any], *,
    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    return {
        "format": SUMMARY_FORMAT,
        "metadata": {**metadata, "bootstrap": {"resamples": resamples, "seed": seed,
                                               "confidence": 0.95, "method": "percentile"}},
        "counts": counts(scores),
        "metric_info": metric_info(metrics),
        "metrics": metric_values(scores, metrics, resamples=resamples, seed=seed),
        "cases": {
            s.case.id: {"slice": s.case.slice, "passed": s.passed, "scores": s.scores}
            for s in scores
        },
    }


def case_record(score: CaseScore) -> dict[str, Any]:
    """One results.jsonl row: what was asked, what came back, how it scored."""
    case, result = score.case, score.first
    record: dict[str, Any] = {
        "id": case.id,
        "slice": case.slice,
        "question": case.final_question,
        "messages": case.as_messages() if case.messages is not None else None,
        "role": case.role,
        "expected_sources": case.expected_sources,
        "expected_facts": [f.label for f in case.expected_facts],
        "must_refuse": case.must_refuse,
        "must_block": case.must_block,
        "answer": result.answer,
        "refused": result.refused,
        "blocked": result.blocked,
        "refusal_reason": result.refusal_reason,
        "outcome": result.outcome,
        "retrieved": [
            {"chunk_id": c.chunk_id, "section_id": c.section_id, "score": c.score,
             "text": c.text[:SNIPPET_CHARS]}
            for c in result.retrieved
        ],
        "citations": [
            {"marker": c.marker, "chunk_id": c.chunk_id, "section_id": c.section_id,
             "quote": c.quote[:SNIPPET_CHARS]}
            for c in result.citations
        ],
        "guardrails": [
            {"guard": v.guard, "stage": v.stage, "action": v.action, "score": v.score}
            for v in result.verdicts if v.triggered
        ],
        "scores": score.scores,
        "passed": score.passed,
        "reasons": score.reasons,
        "latency_ms": result.latency_ms,
        "tokens": {"prompt": result.usage.prompt_tokens,
                   "completion": result.usage.completion_tokens},
        "cost_usd": result.usage.cost_usd,
        "model": result.model,
        "provider": result.provider,
        "prompt": f"{result.prompt.name}@{result.prompt.version}" if result.prompt.name else None,
        "trace_id": result.trace_id,
        "error": score.attempts[0].error,
        "repeats": len(score.attempts),
    }
    if len(score.attempts) > 1:
        record["attempts"] = [
            {"answer": a.result.answer, "refused": a.result.refused, "blocked": a.result.blocked,
             "passed": ok, "latency_ms": a.result.latency_ms, "error": a.error, "scores": s}
            for a, ok, s in zip(score.attempts, score.attempt_passed, score.attempt_scores, strict=True)
        ]
    return record
