"""Logging, configured once at app start: JSON lines (or plain text for a terminal).

Every line carries the trace id of the request it belongs to, so a log line
leads to its trace and back. Request lines add structured fields (route
template, status, latency, outcome...) passed as ``extra={"fields": {...}}``.

What must never reach a log - request bodies, answers, prompts, PII,
Authorization headers, keys - is kept out by the callers (they log ids and
outcomes, not content); the formatter still scrubs the free-text parts
(message and traceback) as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from gateway.observability.redaction import LOG_PII_TYPES, scrub
from gateway.settings import TelemetrySettings

# Libraries that log request URLs or connection chatter at INFO; WARNING and above still show.
_QUIET = ("httpx", "httpcore", "urllib3", "filelock", "sentence_transformers", "faiss")
# uvicorn's own loggers keep their level but write through our handler (one format per process).
_UVICORN = ("uvicorn", "uvicorn.error")


# ``extra={BOUNDED: True}`` marks a message built only from bounded values (method, route
# template, status): nothing to scrub. The request line is one per request, and running
# the PII recognizers over "POST /v1/answers 200" was a visible share of its cost.
BOUNDED = "ladder_bounded_message"


def _trace_id(record: logging.LogRecord) -> str:
    explicit = getattr(record, "trace_id", None)
    if explicit:
        return str(explicit)
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


class _Scrubbing(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def _text(self, record: logging.LogRecord) -> tuple[str, str | None]:
        message = record.getMessage()
        if not getattr(record, BOUNDED, False):
            message = scrub(message, self._secrets, LOG_PII_TYPES)
        error = None
        if record.exc_info:
            error = scrub(self.formatException(record.exc_info), self._secrets, LOG_PII_TYPES)
        return message, error

    @staticmethod
    def _timestamp(record: logging.LogRecord) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(_Scrubbing):
    def format(self, record: logging.LogRecord) -> str:
        message, error = self._text(record)
        line: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "trace_id": _trace_id(record),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k not in line})
        if error:
            line["error"] = error
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(_Scrubbing):
    def format(self, record: logging.LogRecord) -> str:
        message, error = self._text(record)
        trace_id = _trace_id(record)
        parts = [self._timestamp(record), record.levelname, record.name, message]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            parts += [f"{k}={v}" for k, v in fields.items()]
        if trace_id:
            parts.append(f"trace_id={trace_id}")
        line = " ".join(str(p) for p in parts)
        return f"{line}\n{error}" if error else line


class LadderHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler ladder installed, so configuring again replaces it, not doubles it.

    Writes to whatever ``sys.stderr`` is at the time (as logging's last-resort handler
    does): a stream captured and closed by a test runner is never written to later."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(settings: TelemetrySettings, secrets: Iterable[str] = ()) -> logging.Handler:
    """Install one handler on the root logger (replacing a previous ladder handler, keeping
    anyone else's, e.g. pytest's). Returns the handler."""
    formatter = JsonFormatter(secrets) if settings.log_format == "json" else TextFormatter(secrets)
    handler = LadderHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, LadderHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if getattr(h, "stream", None) not in (sys.stdout, sys.stderr)]
        logger.propagate = True
    return handler
