"""Find PII spans in a text: every recognizer, then overlaps resolved by priority."""

from __future__ import annotations

from collections.abc import Iterable

from guardrails.pii.names import find_person_names
from guardrails.pii.recognizers import RECOGNIZERS, EntityType, Span

ALL_TYPES: tuple[EntityType, ...] = (
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "SSN",
    "IP_ADDRESS",
    "PERSON",
)


def detect_pii(text: str, types: Iterable[EntityType] = ALL_TYPES) -> list[Span]:
    """Non-overlapping PII spans in text order. Structured types beat PERSON on overlap."""
    wanted = set(types)
    unknown = wanted - set(ALL_TYPES)
    if unknown:
        raise ValueError(f"unknown PII types: {sorted(unknown)}; known: {list(ALL_TYPES)}")
    chosen: list[Span] = []

    def free(span: Span) -> bool:
        return not any(span.start < other.end and other.start < span.end for other in chosen)

    for entity_type, recognizer in RECOGNIZERS:
        if entity_type in wanted:
            chosen.extend(span for span in recognizer(text) if free(span))
    if "PERSON" in wanted:
        chosen.extend(span for span in find_person_names(text) if free(span))
    return sorted(chosen, key=lambda span: span.start)
