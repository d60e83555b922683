"""Thumbs up/down: stored per (trace, key), replaced on a second vote, exported with context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.usage.errors import InvalidFeedback
from gateway.usage.ledger import Ledger
from gateway.usage.records import UsageRecord


def test_record_replace_and_export_with_request_context(ledger: Ledger) -> None:
    ledger.record(
        UsageRecord(
            key_id="k1",
            route="/v1/chat/completions",
            latency_ms=5,
            model="gpt-4o",
            prompt_name="rag_answer",
            prompt_version="4",
            trace_id="t-1",
        )
    )
    ledger.flush()
    ledger.record_feedback("t-1", "k1", 1, "  helpful  ")
    ledger.record_feedback("t-1", "k1", -1, "actually wrong KPI")  # changed their mind
    ledger.record_feedback("t-unknown", "k2", 1)
    exported = ledger.export_feedback()
    assert len(exported) == 2
    first = next(f for f in exported if f.trace_id == "t-1")
    assert (first.rating, first.comment, first.model, first.prompt) == (
        -1,
        "actually wrong KPI",
        "gpt-4o",
        "rag_answer@4",
    )
    other = next(f for f in exported if f.trace_id == "t-unknown")
    assert other.model is None and other.comment is None
    future = datetime.now(UTC) + timedelta(days=1)
    assert ledger.export_feedback(since=future) == []


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (("t", "k", 0), "rating"),
        (("t", "k", 2), "rating"),
        (("t", "k", True), "rating"),
        (("", "k", 1), "trace_id"),
        (("t", "", 1), "key_id"),
        (("t", "k", 1, "x" * 2001), "comment"),
    ],
)
def test_invalid_feedback_is_a_400(ledger: Ledger, args: tuple, param: str) -> None:
    with pytest.raises(InvalidFeedback) as caught:
        ledger.record_feedback(*args)
    assert caught.value.status_code == 400 and caught.value.param == param
