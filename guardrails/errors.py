"""Errors raised by the guardrails package.

GuardrailError
 ├── PolicyError        a policy file is missing or invalid (start-up; names file and field)
 ├── ModelFileError     a bundled model file is missing, corrupt or does not match its feature spec
 ├── GuardInputError    the caller passed something the pipeline cannot check (developer mistake)
 └── ModelNeeded        a check run with ``allow_model=False`` needed the embedding model

A guard that *fires* is not an error: it is a ``Verdict`` with ``triggered=True``.
"""

from __future__ import annotations

from pathlib import Path


class GuardrailError(Exception):
    """Root of the guardrails package's errors."""


class PolicyError(GuardrailError):
    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        super().__init__(f"{path}: invalid guard policy:\n  " + "\n  ".join(problems))


class ModelFileError(GuardrailError):
    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class GuardInputError(GuardrailError):
    """Bad arguments to the pipeline (unknown audience, malformed messages)."""


class ModelNeeded(GuardrailError):
    """A check run with ``allow_model=False`` needed vectors the embedder had not cached.

    Not a failure: the caller embeds ``texts`` where a model call may block (a worker
    thread instead of the event loop) and runs the check again. Nothing was changed
    by the first run."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        super().__init__(f"{len(texts)} text(s) need the embedding model")
