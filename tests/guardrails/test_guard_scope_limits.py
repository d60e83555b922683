"""Scope (real classifier, phrasings not in the labelled set) and request limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.pipeline import GuardPipeline
from guardrails.policy import load_policies
from guardrails.testing import StaticLimits, user

SCOPE_DATA = Path(__file__).resolve().parents[2] / "guardrails" / "data" / "scope_labelled.jsonl"

ALLOWED = [
    "Which KPIs would my manager use to judge a staff data engineer?",
    "how do I grow into a staff engineer?",
    "what should I learn to become an MLOps engineer?",
    "What are sensible goals for my first month as an AI platform lead?",
    "Is mentoring part of the principal engineer job?",
]
REFUSED = [
    "Will it snow in Oslo on Friday?",
    "Give me a good recipe for chocolate chip cookies.",
    "Which crypto coin will double next week?",
    "Who won the tennis final yesterday?",
    "Please solve 12x - 5 = 31 for my homework.",
]


def scope_verdict(pipeline: GuardPipeline, messages: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    outcome = pipeline.check_input(messages)
    return outcome, next(v for v in outcome.verdicts if v.guard == "scope")


@pytest.mark.parametrize("text", ALLOWED)
def test_career_questions_are_in_scope(pipeline: GuardPipeline, text: str) -> None:
    outcome, verdict = scope_verdict(pipeline, user(text))
    assert not verdict.triggered, verdict.reasons
    assert not outcome.refused


@pytest.mark.parametrize("text", REFUSED)
def test_off_topic_requests_are_refused_politely(pipeline: GuardPipeline, text: str) -> None:
    outcome, verdict = scope_verdict(pipeline, user(text))
    assert verdict.triggered and verdict.action == "refuse"
    assert outcome.refused and outcome.refusal_code == "off_topic"
    assert "KPIs" in (outcome.refusal_reason or "") and "career paths" in (
        outcome.refusal_reason or ""
    )


def test_short_followup_of_an_on_topic_conversation_is_allowed(pipeline: GuardPipeline) -> None:
    messages = [
        {"role": "user", "content": "What are the KPIs for a staff applied AI engineer?"},
        {"role": "assistant", "content": "Deployment frequency and model quality [1]."},
        {"role": "user", "content": "ok, and what about in Tokyo?"},
    ]
    outcome, verdict = scope_verdict(pipeline, messages)
    assert not outcome.refused
    assert not verdict.triggered


def test_scope_set_is_big_enough_and_written_here() -> None:
    rows = [json.loads(line) for line in SCOPE_DATA.read_text().splitlines() if line.strip()]
    labels = [row["label"] for row in rows]
    assert labels.count("on_topic") >= 150 and labels.count("off_topic") >= 150
    assert len({row["text"] for row in rows}) == len(rows)


def test_scope_model_reports_dev_precision_and_recall(pipeline: GuardPipeline) -> None:
    scope = next(g for g in pipeline.input_guards if g.name == "scope")
    metrics = scope.classifier.model.metrics  # type: ignore[attr-defined]
    assert {"precision", "recall"} <= set(metrics["dev_off_topic"])
    assert metrics["dev_on_topic"]["recall"] >= 0.9


def test_message_too_long_is_refused_before_anything_else(embedder) -> None:  # type: ignore[no-untyped-def]
    guards = GuardPipeline(
        load_policies(Path("guardrails/policies")), embedder, StaticLimits(max_message_chars=50)
    )
    outcome = guards.check_input(user("What are the KPIs? " * 10))
    assert outcome.refused and outcome.refusal_code == "message_too_long"
    assert [v.guard for v in outcome.verdicts] == ["limits"]
    assert outcome.query_embedding is None  # nothing was embedded for an oversized request
    assert "50" in (outcome.refusal_reason or "")


def test_too_many_turns_and_tokens(embedder) -> None:  # type: ignore[no-untyped-def]
    policies = load_policies(Path("guardrails/policies"))
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}] * 3
    outcome = GuardPipeline(policies, embedder, StaticLimits(max_turns=5)).check_input(turns)
    assert outcome.refusal_code == "too_many_turns"
    long_text = user("staff engineer KPIs " * 40)
    outcome = GuardPipeline(policies, embedder, StaticLimits(max_total_tokens=30)).check_input(
        long_text
    )
    assert outcome.refusal_code == "too_many_tokens"
    verdict = outcome.verdicts[0]
    assert verdict.score is not None and verdict.threshold == 30.0 and verdict.score > 30
