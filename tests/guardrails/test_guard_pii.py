"""PII detection and redaction: formats, check digits, typed consistent placeholders."""

from __future__ import annotations

import pytest

from guardrails.pii.checksums import iban_valid, luhn_valid, ssn_valid
from guardrails.pii.detector import detect_pii
from guardrails.pii.redactor import PiiMap, redact_messages


def kinds(text: str) -> list[tuple[str, str]]:
    return [(span.type, span.text) for span in detect_pii(text)]


def _luhn_reference(number: str) -> bool:
    # Independent formulation (ISO/IEC 7812 annex): double every second digit from the
    # right via a lookup table, sum, check mod 10.
    doubled = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]
    digits = [int(c) for c in number][::-1]
    return sum(d if i % 2 == 0 else doubled[d] for i, d in enumerate(digits)) % 10 == 0


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
        "30569309025904",
        "3530111333300000",
        "4012888888881881",
    ],
)
def test_luhn_accepts_published_test_card_numbers(number: str) -> None:
    assert luhn_valid(number)
    # one changed digit breaks the check
    assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_luhn_matches_an_independent_implementation() -> None:
    for seed in range(2000):
        number = str(10**12 + seed * 7919)
        assert luhn_valid(number) == _luhn_reference(number)


@pytest.mark.parametrize(
    "iban",
    [
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "CH9300762011623852957",
        "gb82west12345698765432",
    ],
)
def test_iban_mod97_accepts_published_examples(iban: str) -> None:
    assert iban_valid(iban)


def test_iban_rejects_wrong_check_digits_and_wrong_country_length() -> None:
    assert not iban_valid("GB83WEST12345698765432")
    assert not iban_valid("DE8937040044053201300")  # one digit short for DE
    assert not iban_valid("GB82 WEST 1234 5698 7654 3X")


def test_ssn_rules() -> None:
    assert ssn_valid("123", "45", "6789")
    for area, group, serial in [
        ("000", "12", "3456"),
        ("666", "12", "3456"),
        ("912", "12", "3456"),
        ("123", "00", "4567"),
        ("123", "45", "0000"),
    ]:
        assert not ssn_valid(area, group, serial)


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "(555) 123-4567",
        "555.123.4567",
        "+49 30 1234567",
        "+1-212-555-0100",
        "0049 89 123456",
        "+41 (0)44 668 18 00",
        "212-555-0100 x123",
        "5551234567",
    ],
)
def test_phone_formats(phone: str) -> None:
    assert kinds(f"Call me on {phone} tomorrow.") == [("PHONE", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "Reduce p95 latency from 800 ms to 200 ms by 2025.",
        "Goals at 30/60/90 days.",
        "Uptime 99.9% and 1 250 000 monthly users.",
        "Released on 2024-03-15 12:30.",
        "Version 1.2.3 shipped on 15.03.2024.",
        "Between 2023 2024 the team grew.",
    ],
)
def test_numbers_in_role_text_are_not_phones(text: str) -> None:
    assert kinds(text) == []


def test_cards_need_luhn_and_ibans_need_mod97() -> None:
    assert kinds("card 4111 1111 1111 1111") == [("CREDIT_CARD", "4111 1111 1111 1111")]
    assert kinds("card 4111 1111 1111 1112") == []
    assert kinds("iban DE89 3704 0044 0532 0130 00 ok") == [("IBAN", "DE89 3704 0044 0532 0130 00")]
    assert ("IBAN", "DE88370400440532013000") not in kinds("iban DE88370400440532013000")


def test_ssn_requires_valid_area_and_context_for_bare_digits() -> None:
    assert kinds("SSN 123-45-6789") == [("SSN", "123-45-6789")]
    assert kinds("SSN 666-45-6789") == []
    assert kinds("my social security number is 123456789") == [("SSN", "123456789")]
    assert ("SSN", "123456789") not in kinds("order 123456789 shipped")


def test_email_and_ip_addresses() -> None:
    assert kinds("write to jane.doe+hr@example.co.uk") == [("EMAIL", "jane.doe+hr@example.co.uk")]
    assert kinds("from 192.168.10.25 and 2001:db8::8a2e:370:7334") == [
        ("IP_ADDRESS", "192.168.10.25"),
        ("IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    ]
    assert kinds("version 300.1.2.4 at 12:30:45") == []


def test_person_names_from_cues_titles_and_the_name_list() -> None:
    found = kinds("Hi, my name is lena andersson. Dr. Okafor and Mr. Leiva met Jennifer Lopez.")
    assert found == [
        ("PERSON", "lena andersson"),
        ("PERSON", "Dr. Okafor"),
        ("PERSON", "Mr. Leiva"),
        ("PERSON", "Jennifer Lopez"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "What does a Staff Applied AI Engineer do?",
        "The Principal Data Scientist reports to the VP.",
        "Mark the date and Will it scale?",
        "Senior ML Engineer and Engineering Manager, Applied AI",
    ],
)
def test_role_titles_and_common_words_are_not_names(text: str) -> None:
    assert [k for k in kinds(text) if k[0] == "PERSON"] == []


def test_redaction_is_typed_and_consistent_across_messages() -> None:
    messages = [
        {"role": "user", "content": "I'm Jane Doe, mail jane@example.com or JANE@example.com."},
        {"role": "assistant", "content": "Noted."},
        {
            "role": "user",
            "content": "Also cc bob@example.org and jane@example.com; call +44 20 7946 0958.",
        },
    ]
    redacted, pii_map, spans = redact_messages(messages)
    assert redacted[0]["content"] == "I'm <PERSON_1>, mail <EMAIL_1> or <EMAIL_1>."
    assert redacted[2]["content"] == "Also cc <EMAIL_2> and <EMAIL_1>; call <PHONE_1>."
    assert redacted[1] == messages[1]
    assert pii_map.originals["<EMAIL_2>"] == "bob@example.org"
    assert pii_map.restore(redacted[2]["content"]).startswith("Also cc bob@example.org")
    assert len(spans) == 6
    assert "jane" not in repr(pii_map).lower()


def test_redaction_respects_entity_selection() -> None:
    redacted, _, _ = redact_messages(
        [{"role": "user", "content": "Jane Doe at jane@example.com"}], types=["EMAIL"]
    )
    assert redacted[0]["content"] == "Jane Doe at <EMAIL_1>"


def test_pii_map_counts_and_reuse() -> None:
    pii_map = PiiMap()
    redact_messages([{"role": "user", "content": "a@b.io, c@d.io"}], pii_map=pii_map)
    redact_messages([{"role": "user", "content": "c@d.io"}], pii_map=pii_map)
    assert pii_map.counts() == {"EMAIL": 2}
