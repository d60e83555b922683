"""Test doubles shipped with the package, so callers' tests need no patching."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prompts.gate import GateResult


class StaticGate:
    """A release gate with a fixed verdict; remembers what it was asked to check."""

    def __init__(self, passed: bool, summary: str | None = None, **details: Any):
        self.result = GateResult(
            passed=passed,
            summary=summary or ("golden set passed" if passed else "golden set regressed"),
            details=dict(details),
        )
        self.calls: list[tuple[str, str]] = []

    def check(self, name: str, version: str) -> GateResult:
        self.calls.append((name, version))
        return self.result


class FunctionGate:
    """A release gate whose verdict a test computes: ``FunctionGate(lambda n, v: ...)``."""

    def __init__(self, decide: Callable[[str, str], GateResult]):
        self._decide = decide

    def check(self, name: str, version: str) -> GateResult:
        return self._decide(name, version)
