"""Thumbs up/down feedback from the usage ledger → candidate golden cases for review.

The ledger stores who rated which trace and the optional comment, never the
question or the answer text (request content is not persisted). So a candidate
carries everything the ledger knows in ``notes`` and leaves ``question`` null
and ``slice`` as ``needs-review``: both fail ``load_golden`` on purpose, so a
candidate cannot enter the golden set until a human has looked up the trace
(tracing with content capture, or the user's report), written the question,
picked the slice and filled the expectations. Thumbs-down rows come first:
they are the likeliest regressions to pin down.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from evals.errors import FeedbackUnavailable

REVIEW_SLICE = "needs-review"
_SLUG = re.compile(r"[^a-z0-9]+")


def _case_id(trace_id: str) -> str:
    return "feedback-" + (_SLUG.sub("-", trace_id.lower()).strip("-") or "unknown")


def candidate_case(row: Any) -> dict[str, Any]:
    """One Feedback row (``gateway.usage.feedback.Feedback``) → one candidate case."""
    verdict = "thumbs down" if row.rating < 0 else "thumbs up"
    notes = [f"from feedback {row.trace_id}; needs review", verdict,
             f"rated {row.created_at.isoformat(timespec='seconds')} by key {row.key_id}"]
    for label, value in (("route", row.route), ("model", row.model), ("prompt", row.prompt)):
        if value:
            notes.append(f"{label} {value}")
    if row.comment:
        notes.append(f"comment: {row.comment}")
    return {
        "id": _case_id(row.trace_id),
        "slice": REVIEW_SLICE,
        "question": None,
        "expected_sources": [],
        "expected_facts": [],
        "must_refuse": False,
        "must_block": False,
        "must_not_contain": [],
        "notes": "; ".join(notes),
    }


def export_candidates(ledger_path: Path, *, since: datetime | None = None,
                      until: datetime | None = None) -> list[dict[str, Any]]:
    if not ledger_path.is_file():
        raise FeedbackUnavailable(f"no usage ledger at {ledger_path} (has the server run here?)")
    try:
        from gateway.usage.errors import LedgerError
        from gateway.usage.ledger import Ledger
    except ModuleNotFoundError as exc:
        raise FeedbackUnavailable(f"the usage ledger module is not installed ({exc.name})") from exc
    try:
        with Ledger(ledger_path) as ledger:
            rows = ledger.export_feedback(since, until)
    except LedgerError as exc:
        raise FeedbackUnavailable(f"cannot read feedback from {ledger_path}: {exc}") from exc
    rows.sort(key=lambda r: (r.rating, r.created_at))
    seen: set[str] = set()
    cases = []
    for row in rows:
        case = candidate_case(row)
        if case["id"] in seen:  # two keys rated the same trace: one candidate is enough
            continue
        seen.add(case["id"])
        cases.append(case)
    return cases
