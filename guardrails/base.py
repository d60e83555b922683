"""The Guard seam and the verdict every guard returns.

A guard measures; a policy decides. Each guard returns a score, whether it
fired at the policy's threshold, and its reasons; the policy's action for that
guard (block, refuse, redact, remove, warn, log) is applied by the guard
pipeline and recorded in the verdict the caller sees.

Action meanings: ``block`` stops the request as an attack (the gateway answers
with a refusal and may count it against the caller); ``refuse`` stops it with
a polite explanation (off-topic, too long); ``redact`` replaces the offending
text with a placeholder and continues; ``remove`` drops the offending answer
sentences or markers and continues; ``warn`` and ``log`` only record the
verdict (``warn`` is meant to surface in responses for evaluators, ``log``
only in logs and traces).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

Stage = Literal["input", "output"]
Action = Literal["allow", "block", "refuse", "redact", "remove", "warn", "log"]
ContextT_contra = TypeVar("ContextT_contra", contravariant=True)
ConfigT_contra = TypeVar("ConfigT_contra", contravariant=True)


class Verdict(BaseModel):
    guard: str
    stage: Stage
    triggered: bool
    action: Action = Field(description="What was done: 'allow' when the guard did not fire")
    score: float | None = None
    threshold: float | None = None
    reasons: list[str] = Field(default_factory=list)
    latency_ms: float = 0.0


@dataclass(frozen=True)
class GuardResult:
    """What a guard measured. The pipeline adds the policy's action and the timing."""

    triggered: bool
    score: float | None = None
    threshold: float | None = None
    reasons: list[str] = field(default_factory=list)
    # Machine-readable cause when the guard fired (e.g. "message_too_long", "off_topic").
    code: str | None = None
    # Plain words for the user if this verdict ends the request.
    user_message: str | None = None


@runtime_checkable
class Guard(Protocol[ContextT_contra, ConfigT_contra]):
    """One check. ``check`` may rewrite the context (redaction, sentence removal) only
    when ``apply`` is true, i.e. when the policy's action for it is redact/remove."""

    name: str
    stage: Stage

    def warm_up(self) -> None: ...

    def check(
        self, context: ContextT_contra, config: ConfigT_contra, apply: bool
    ) -> GuardResult: ...
