"""The release-gate seam: what must pass before a version becomes ``production``.

The golden-set gate lives in ``evals.gate`` (``GoldenGate``). This module only
defines the contract and finds the implementation, so prompts/ never imports
evals/ at module level and works when evals/ has no gate yet.

Contract for implementers::

    class GoldenGate:                       # evals/gate.py
        def __init__(self, settings: Settings) -> None: ...   # cheap
        def check(self, name: str, version: str) -> GateResult: ...

``check`` evaluates ``name@version`` (it may resolve the template through a
``PromptRegistry``) and compares it with whatever baseline it chooses (usually
the current ``production`` version); ``passed=False`` means a regression.
``summary`` is one line and is written into the label history; ``details`` is
free-form (metrics, per-case failures) for display only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from prompts.errors import GateRefused
from prompts.store import GateRecord

if TYPE_CHECKING:
    from gateway.settings import Settings

GATE_MODULE = "evals.gate"
GATE_CLASS = "GoldenGate"


@dataclass(frozen=True)
class GateResult:
    passed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ReleaseGate(Protocol):
    def check(self, name: str, version: str) -> GateResult: ...


def load_default_gate(settings: Settings) -> ReleaseGate | None:
    """Build ``evals.gate.GoldenGate(settings)``, or None when that module does not exist.

    Only the module's absence counts as "no gate": an ImportError raised *inside*
    evals.gate is a bug there and is re-raised, never mistaken for "unavailable".
    """
    try:
        module = importlib.import_module(GATE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name in (GATE_MODULE, GATE_MODULE.split(".")[0]):
            return None
        raise
    gate_class = getattr(module, GATE_CLASS, None)
    if gate_class is None:
        return None
    gate = gate_class(settings)
    if not isinstance(gate, ReleaseGate):
        raise TypeError(f"{GATE_MODULE}.{GATE_CLASS} does not implement ReleaseGate.check")
    return gate


def gate_verdict(
    gate: ReleaseGate | None, name: str, version: str, *, ref: str, label: str, force: bool
) -> GateRecord:
    """Run the gate for a gated label; raise GateRefused unless it passes or ``force``.

    What is returned goes into the label history, so a forced promotion always
    shows what it overrode (a failing verdict, or no gate at all).
    """
    if gate is None:
        if not force:
            raise GateRefused(
                f"refusing to promote {ref} to {label!r}: no release gate is available "
                f"(the golden-set gate {GATE_MODULE}.{GATE_CLASS} is not installed); "
                "pass force with a reason to override"
            )
        return GateRecord(passed=None, summary="no release gate available")
    result = gate.check(name, version)
    if not result.passed and not force:
        raise GateRefused(f"release gate refused {ref}: {result.summary}", result)
    return GateRecord(passed=result.passed, summary=result.summary)
