"""What one HTTP request learned on its way through, for its metrics and its log line.

The request middleware opens a ``RequestFacts`` before calling the app; the
pipeline fills it in (model, provider, outcome...). A context variable carries
it, so nothing needs threading through function signatures, and worker
threads and streaming tasks (which copy the context) fill the same object.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestFacts:
    trace_id: str = ""
    route: str | None = None  # the route template the server span matched
    key_id: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_version: str | None = None
    outcome: str | None = None  # set by the pipeline: ok, refused, blocked, error
    cache_hit: bool | None = None


_current: ContextVar[RequestFacts | None] = ContextVar("ladder_request_facts", default=None)


def open_facts() -> tuple[RequestFacts, object]:
    """A fresh record for this request; pass the token to ``close_facts``."""
    facts = RequestFacts()
    return facts, _current.set(facts)


def close_facts(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current_facts() -> RequestFacts | None:
    """This request's record, or None outside an HTTP request (CLI, eval harness)."""
    return _current.get()
