"""Typed, request-consistent redaction: the same value gets the same placeholder everywhere.

``alice@example.com`` in the first and the third message both become
``<EMAIL_1>``; a second, different address becomes ``<EMAIL_2>``. The mapping
(placeholder -> original) lives only in memory for the one request: it never
reaches retrieval, the provider, logs, traces or the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from guardrails.pii.detector import ALL_TYPES, detect_pii
from guardrails.pii.recognizers import EntityType, Span

PLACEHOLDER = re.compile(r"<(EMAIL|PHONE|CREDIT_CARD|IBAN|SSN|IP_ADDRESS|PERSON)_(\d+)>")


def canonical(entity_type: EntityType, value: str) -> str:
    """The form two spellings of one value share ("+1 555 0100" and "+15550100")."""
    if entity_type in ("PHONE", "CREDIT_CARD", "SSN"):
        return re.sub(r"\D", "", value)
    if entity_type == "IBAN":
        return "".join(value.split()).upper()
    return " ".join(value.split()).casefold()


@dataclass
class PiiMap:
    """Placeholders handed out within one request. Keep in memory only."""

    placeholders: dict[tuple[EntityType, str], str] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)
    counters: dict[EntityType, int] = field(default_factory=dict)

    def placeholder_for(self, span: Span) -> str:
        key = (span.type, canonical(span.type, span.text))
        existing = self.placeholders.get(key)
        if existing:
            return existing
        number = self.counters.get(span.type, 0) + 1
        self.counters[span.type] = number
        placeholder = f"<{span.type}_{number}>"
        self.placeholders[key] = placeholder
        self.originals[placeholder] = span.text
        return placeholder

    def restore(self, text: str) -> str:
        """Put the originals back (for the caller's eyes only, after every check has run)."""
        return PLACEHOLDER.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)

    def counts(self) -> dict[EntityType, int]:
        return dict(self.counters)

    def __repr__(self) -> str:  # never print the originals by accident
        return f"PiiMap(counts={self.counts()})"


def redact(
    text: str, pii_map: PiiMap, types: Iterable[EntityType] = ALL_TYPES
) -> tuple[str, list[Span]]:
    spans = detect_pii(text, types)
    if not spans:
        return text, []
    pieces: list[str] = []
    cursor = 0
    for span in spans:
        pieces.append(text[cursor : span.start])
        pieces.append(pii_map.placeholder_for(span))
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces), spans


def redact_messages(
    messages: list[dict[str, str]],
    types: Iterable[EntityType] = ALL_TYPES,
    pii_map: PiiMap | None = None,
) -> tuple[list[dict[str, str]], PiiMap, list[Span]]:
    """Redact every message's content with one shared map; other keys are copied unchanged."""
    pii_map = pii_map or PiiMap()
    wanted = tuple(types)
    out: list[dict[str, str]] = []
    found: list[Span] = []
    for message in messages:
        redacted, spans = redact(message.get("content", ""), pii_map, wanted)
        out.append({**message, "content": redacted})
        found.extend(spans)
    return out, pii_map, found
