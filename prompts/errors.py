"""Errors raised by the prompt registry. The gateway translates them at its boundary.

PromptError
 ├── TemplateValidationError   a template file is invalid (start-up; carries file + line)
 ├── PromptEdited              a released version's file no longer matches its locked hash
 ├── PromptNotFound            unknown name, version or label (gateway: 404 / 400)
 ├── PromptRenderError         the variables given do not render the template
 ├── RegistryError             the label registry or lock file cannot be read or changed
 └── GateRefused               the release gate refused a promotion (carries the GateResult)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prompts.gate import GateResult


class PromptError(Exception):
    """Root of the prompt registry's errors."""


class TemplateValidationError(PromptError):
    """A template file failed validation; the message starts with ``FILE:LINE:``."""

    def __init__(self, path: Path | str, line: int | None, reason: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = Path(path)
        self.line = line
        self.reason = reason


class PromptEdited(PromptError):
    """A released version was changed in place; releases are immutable."""

    def __init__(self, ref: str, suggestion: str, path: Path, locked: str, found: str):
        super().__init__(
            f"{ref} was edited after release: create {suggestion} instead "
            f"({path}: locked sha256 {locked[:12]}…, file now {found[:12]}…)"
        )
        self.ref = ref
        self.suggestion = suggestion
        self.path = path
        self.locked = locked
        self.found = found


class PromptNotFound(PromptError):
    """No prompt, version or label by that name."""


class PromptRenderError(PromptError):
    """Rendering failed: missing, unexpected or mistyped variables, or a template error."""


class RegistryError(PromptError):
    """The label registry, the lock file or a requested label move is invalid."""


class GateRefused(PromptError):
    """The release gate did not pass and the promotion was not forced."""

    def __init__(self, message: str, result: GateResult | None = None):
        super().__init__(message)
        self.result = result
