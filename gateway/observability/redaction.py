"""The last filter before text leaves the process as telemetry (span attributes, log lines).

The pipeline already hands telemetry redacted messages; this pass is the
second line: credentials by shape, configured secrets by value, and PII with
the same detector the guards use (so a document or an answer that contains an
address is captured as ``<EMAIL>``, never as the address).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from guardrails.pii.detector import ALL_TYPES, detect_pii

REDACTED = "[REDACTED]"
# Shorter configured values would match ordinary words.
_MIN_SECRET_CHARS = 6


@cache
def _credential_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return (
        # ladder keys read lk_<12 hex id>_<secret>: the id is public (logs name keys by it).
        (re.compile(r"\b(lk_[0-9a-f]{12})_[A-Za-z0-9_-]{8,}"), r"\1_" + REDACTED),
        (re.compile(r"\b([Bb]earer|[Bb]asic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
        (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
        (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
        (
            re.compile(r"(?i)\b(api[_-]?key|authorization|password|secret|token)(\"?\s*[:=]\s*\"?)[^\s\",}]{6,}"),
            r"\1\2" + REDACTED,
        ),
    )


def scrub_credentials(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _credential_patterns():
        text = pattern.sub(replacement, text)
    return text


def scrub_pii(text: str, types: Iterable[str] = ALL_TYPES) -> str:
    """PII spans become typed placeholders (``<EMAIL>``); placeholders already there stay."""
    spans = detect_pii(text, types)
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for span in spans:
        pieces += [text[cursor : span.start], f"<{span.type}>"]
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)


# Log lines are ladder's own words; person-name and IP detection there would only mangle
# file paths and version numbers, so logs get the structured types.
LOG_PII_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN")


def scrub(text: str, secrets: Iterable[str] = (), types: Iterable[str] = ALL_TYPES) -> str:
    return scrub_pii(scrub_credentials(text, secrets), types)
