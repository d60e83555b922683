"""Input guard: find PII in every message and (when the policy says redact) replace it."""

from __future__ import annotations

from collections import Counter

from guardrails.base import GuardResult, Stage
from guardrails.context import InputContext
from guardrails.pii.detector import detect_pii
from guardrails.pii.redactor import redact_messages
from guardrails.policy import PiiConfig

_WORDS = {
    "EMAIL": "email addresses",
    "PHONE": "phone numbers",
    "CREDIT_CARD": "card numbers",
    "IBAN": "bank account numbers",
    "SSN": "social security numbers",
    "IP_ADDRESS": "IP addresses",
    "PERSON": "names",
}


class PiiGuard:
    name = "pii"
    stage: Stage = "input"

    def warm_up(self) -> None:
        detect_pii("warm up: Jane Doe, jane@example.com, +44 20 7946 0958")

    def check(self, context: InputContext, config: PiiConfig, apply: bool) -> GuardResult:
        if apply:
            redacted, pii_map, spans = redact_messages(context.messages, config.entities)
            context.redacted = redacted
            context.pii_map = pii_map
        else:
            spans = [
                span
                for message in context.messages
                for span in detect_pii(message.get("content", ""), config.entities)
            ]
        counts = Counter(span.type for span in spans)
        reasons = [f"{entity}={count}" for entity, count in sorted(counts.items())]
        kinds = ", ".join(_WORDS[entity] for entity in sorted(counts))
        return GuardResult(
            triggered=bool(spans),
            score=float(len(spans)),
            threshold=1.0,
            reasons=reasons,
            code="personal_data" if spans else None,
            user_message=(
                f"Please remove personal data ({kinds}) from your message and ask again."
                if spans
                else None
            ),
        )
