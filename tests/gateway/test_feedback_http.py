"""POST /v1/feedback as the chat page sends it: stored against the trace, personal data redacted."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from tests.gateway.conftest import Gateway, assert_error

pytestmark = pytest.mark.integration


def _stored_comment(gateway: Gateway, trace_id: str) -> str | None:
    # Read the real database file the way an analyst would, not through ladder's own code.
    with sqlite3.connect(gateway.settings.ledger_path) as conn:
        row = conn.execute("SELECT comment FROM feedback WHERE trace_id = ?", (trace_id,)).fetchone()
    assert row is not None, f"no feedback row for {trace_id}"
    return row[0]


def test_feedback_comment_is_stored_without_personal_data(http: httpx.Client, gateway: Gateway) -> None:
    answer = http.post("/v1/answers", json={"question": "What availability should an AI endpoint reach?"})
    assert answer.status_code == 200, answer.text
    trace_id = answer.json()["trace_id"]

    comment = "Wrong target. Call me on +44 20 7946 0958 or mail jane.doe@example.com"
    posted = http.post("/v1/feedback", json={"trace_id": trace_id, "rating": -1, "comment": comment})
    assert posted.status_code == 201, posted.text

    stored = _stored_comment(gateway, trace_id)
    assert stored is not None
    assert "jane.doe@example.com" not in stored and "7946" not in stored
    assert "<EMAIL_1>" in stored and "<PHONE_1>" in stored
    assert stored.startswith("Wrong target.")
    assert "jane.doe" not in posted.text


def test_feedback_with_a_bad_rating_is_a_clear_400(http: httpx.Client) -> None:
    response = http.post("/v1/feedback", json={"trace_id": "t", "rating": 5})
    error = assert_error(response, 400)
    assert error["param"] is not None and "rating" in error["param"]
