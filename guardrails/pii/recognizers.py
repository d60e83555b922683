"""Pattern recognizers for structured PII: a permissive regex, then a validator.

The regexes describe *formats* (how phone numbers, card numbers and IBANs are
written around the world), and validators remove what only looks like one:
Luhn for cards, mod-97 for IBANs, SSA issuance rules for SSNs, the
``ipaddress`` parser for IPs, digit counts and date shapes for phones.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from guardrails.pii.checksums import iban_valid, luhn_valid, ssn_valid

EntityType = str  # EMAIL, PHONE, CREDIT_CARD, IBAN, SSN, IP_ADDRESS, PERSON


@dataclass(frozen=True)
class Span:
    type: EntityType
    start: int
    end: int
    text: str


_EMAIL = r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
_IPV4 = r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)"
_IPV6 = (
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])"
)
# Compact IBAN, or printed in groups of four.
_IBAN = r"(?<![\w])[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)(?![\w])"
# 12-19 digits, bare or in the groupings cards are printed with (4-4-4-4, 4-6-5 ...).
_CARD = r"(?<![\w+-])(?:\d{12,19}|\d{4}(?:([ -])\d{4}){2}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})(?![\w]|[ -]\d)"
_SSN = r"(?<![\w-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w]|-\d)"
_SSN_CONTEXT = re.compile(r"\b(?:ssn|social security|sozialversicherungs)", re.IGNORECASE)
_PHONE = r"""
(?<![\w+:/.-])
(?:(?:\+|\b00)\d{1,3}[ .-]?)?        # +CC or 00CC
(?:\(0\)\ ?)?                          # the (0) of +44 (0)20 ...
(?:\(\d{1,5}\)[ .-]?)?                 # area code in parentheses
\d{1,12}(?:[ .-]\d{1,10}){0,5}         # digit groups with one separator each
(?:\ ?(?:x|ext\.?|extension)\ ?\d{1,6})?  # extension
(?![\w]|[:/]\d|[.,]\d|\ ?%)
"""
# Year-first dates are unambiguous; day-first ones only when the values fit a calendar.
_ISO_DATE = re.compile(r"^(?:19|20)\d{2}[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])\b")
_DMY_DATE = re.compile(
    r"^(?:0?[1-9]|[12]\d|3[01])([-./])(?:0?[1-9]|1[0-2])\1(?:\d{2}|(?:19|20)\d{2})$"
)
# "4966 Bond Street", "Apt. 675 62314 Mellemvej": house numbers, not phones.
_ADDRESS_AFTER = re.compile(
    r"^[ \t]+(?:[A-ZÀ-Ý][\w'-]*|(?:[\w'-]+[ \t]+){0,2}(?:street|st|avenue|ave|road|rd|lane|ln|"
    r"drive|dr|close|place|square|way|boulevard|blvd|court|ct|rue|str|strasse|straße|allee)\b)"
)
_ADDRESS_BEFORE = re.compile(r"\b(?:apt|apartment|suite|unit|box|no|nr)\.?[ \t]*$", re.IGNORECASE)
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:([ .,])\d{3})(?:\1\d{3})*$")
_NEXT_WORD = re.compile(r"\s*([a-z]+)")
_PHONE_LABELS = {"office", "fax", "mobile", "cell", "home", "work", "tel", "phone", "ext", "direct"}
_PRONOUN_I = {"i", "i'd", "i'm", "i'll", "i've"}
_CURRENCY_BEFORE = re.compile(r"[$€£¥]\s?$|\b(?:eur|usd|gbp|chf)\s?$", re.IGNORECASE)


@cache
def _pattern(source: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(source, flags)


def _find(source: str, text: str, flags: int = 0) -> Iterator[re.Match[str]]:
    return _pattern(source, flags).finditer(text)


def find_emails(text: str) -> Iterator[Span]:
    for m in _find(_EMAIL, text):
        yield Span("EMAIL", m.start(), m.end(), m.group(0))


def find_ip_addresses(text: str) -> Iterator[Span]:
    for m in _find(_IPV4, text):
        yield Span("IP_ADDRESS", m.start(), m.end(), m.group(0))
    for m in _find(_IPV6, text):
        candidate = m.group(0)
        if candidate.count(":") < 2 or sum(c.isalnum() for c in candidate) < 3:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield Span("IP_ADDRESS", m.start(), m.end(), candidate)


def find_ibans(text: str) -> Iterator[Span]:
    for m in _find(_IBAN, text):
        if iban_valid(m.group(0)):
            yield Span("IBAN", m.start(), m.end(), m.group(0))


def find_credit_cards(text: str) -> Iterator[Span]:
    for m in _find(_CARD, text):
        digits = re.sub(r"\D", "", m.group(0))
        if 12 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits):
            yield Span("CREDIT_CARD", m.start(), m.end(), m.group(0))


def find_ssns(text: str) -> Iterator[Span]:
    for m in _find(_SSN, text):
        area, separator, group, serial = m.groups()
        if not ssn_valid(area, group, serial):
            continue
        # Nine bare or space-separated digits are an SSN only when the text says so.
        if separator != "-" and not _SSN_CONTEXT.search(text[max(0, m.start() - 60) : m.start()]):
            continue
        yield Span("SSN", m.start(), m.end(), m.group(0))


def _phone_plausible(candidate: str, text: str, start: int) -> bool:
    main = re.split(r"\s?(?:x|ext\.?|extension)\s?\d", candidate, flags=re.IGNORECASE)[0]
    digits = re.sub(r"\D", "", main)
    if not 7 <= len(digits) <= 15:
        return False
    international = main.startswith(("+", "00"))
    has_parens = "(" in main
    groups = re.findall(r"\d+", main)
    if _ISO_DATE.match(main) or _DMY_DATE.match(main):
        return False
    if not international and not has_parens:
        if len(groups) == 1:
            # A bare run of digits: phone-length only (longer runs are ids or cards).
            return 10 <= len(digits) <= 11
        if len(groups) == 2 and len(groups[-1]) < 3:
            return False  # "55470 72", "2024 12": a number and a short tail
        if all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
            return False  # a run of years
        if _ADDRESS_BEFORE.search(text[max(0, start - 12) : start]):
            return False
        following_text = text[start + len(candidate) : start + len(candidate) + 60]
        after = _ADDRESS_AFTER.match(following_text)
        if after and after.group(0).strip().lower() not in _PHONE_LABELS | _PRONOUN_I:
            return False
        if _SSN_SHAPE.match(main):
            return False  # 3-2-4 is an SSN's shape; find_ssns decides on it
        if _CURRENCY_BEFORE.search(text[max(0, start - 5) : start]):
            return False  # "€ 1 250 000": thousands separated by spaces
        if _THOUSANDS.match(main):
            following = _NEXT_WORD.match(text, start + len(candidate))
            if following and following.group(1).lower() not in _PHONE_LABELS:
                return False  # "1 250 000 users": a quantity, not a number to call
    return True


def find_phones(text: str) -> Iterator[Span]:
    for m in _find(_PHONE, text, re.VERBOSE | re.IGNORECASE):
        candidate = m.group(0).strip(" .-")
        start = m.start() + m.group(0).index(candidate[:1]) if candidate else m.start()
        if candidate and _phone_plausible(candidate, text, start):
            yield Span("PHONE", start, start + len(candidate), candidate)


# Earlier entries win overlaps: a Luhn-valid 16-digit run is a card, not a phone,
# and a dotted quad is an IP address, not a phone number.
RECOGNIZERS: tuple[tuple[EntityType, Callable[[str], Iterator[Span]]], ...] = (
    ("EMAIL", find_emails),
    ("IBAN", find_ibans),
    ("CREDIT_CARD", find_credit_cards),
    ("SSN", find_ssns),
    ("IP_ADDRESS", find_ip_addresses),
    ("PHONE", find_phones),
)
