"""Errors raised by the evaluation harness.

EvalError                    base; the CLI prints the message and exits non-zero
 ├── RunDirError             a run directory is missing, incomplete or unreadable
 ├── ThresholdsError         the thresholds file is malformed
 ├── RunnerError             the pipeline (in-process or over HTTP) could not answer a case
 └── FeedbackUnavailable     the ledger (or its feedback table) cannot be read
(golden files raise evals.schema.GoldenError, also a ValueError.)
"""

from __future__ import annotations


class EvalError(Exception):
    """Root of the evaluation harness's own errors."""


class RunDirError(EvalError):
    """A run directory cannot be read back."""


class ThresholdsError(EvalError):
    """The thresholds file does not validate."""


class RunnerError(EvalError):
    """Running one case failed; carries the case id."""

    def __init__(self, message: str, *, case_id: str | None = None):
        super().__init__(message)
        self.case_id = case_id


class FeedbackUnavailable(EvalError):
    """Feedback cannot be exported (no ledger database, or it has no feedback table)."""
