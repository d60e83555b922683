"""The golden sets are the release bar, so they are checked against the corpus itself.

These tests never look at system output. They prove that every case is well
formed, that every cited section exists, that every expected fact is really
written in one of the sections the case cites (a typo in a fact would otherwise
fail every release for the wrong reason), and that the sets keep the coverage
the project promised (per file, per slice, per Staff section, per role).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from evals.schema import GoldenCase, default_golden_files, load_golden
from retrieval.documents import Blueprint, Section
from retrieval.ingest import load_paths

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
GOLDEN = ROOT / "evals" / "golden"
STAFF = "staff-applied-ai-engineer"
OTHER_ROLES = (
    "senior-applied-ai-engineer",
    "senior-ml-engineer",
    "mlops-engineer",
    "principal-applied-ai-engineer",
    "engineering-manager-applied-ai",
    "ai-platform-lead",
    "staff-data-engineer",
    "staff-backend-engineer",
)
MIN_CASES = {"staff.jsonl": 90, "career_roles.jsonl": 40, "multi_turn.jsonl": 10, "adversarial.jsonl": 50}
MIN_ADVERSARIAL = {"refusal": 12, "abstain": 10, "leading": 8, "pii": 8}
MIN_INJECTION_BLOCKED = 12
MIN_BENIGN_LOOKALIKES = 6

# Unicode dashes the corpus uses (en, em, figure, minus, non-breaking hyphen...).
_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalize(text: str) -> str:
    """The comparison the brief fixes: lower-case, dashes to '-', whitespace collapsed."""
    text = _DASHES.sub("-", text.translate(_QUOTES)).lower()
    return re.sub(r"\s+", " ", text).strip()


def section_text(section: Section) -> str:
    # A chunk below a cited id also counts as retrieved, so descendants belong to the text.
    parts: list[str] = []
    for node in section.walk():
        parts.append(node.title)
        for block in node.blocks:
            parts.append(block.text)
            if block.cells:
                parts.extend(block.cells.values())
    return normalize("\n".join(parts))


@pytest.fixture(scope="module")
def blueprints() -> list[Blueprint]:
    report = load_paths([CORPUS])
    assert report.ok, [str(e) for e in report.errors]
    return report.blueprints


@pytest.fixture(scope="module")
def texts(blueprints: list[Blueprint]) -> dict[str, str]:
    return {s.id: section_text(s) for b in blueprints for s in b.walk()}


@pytest.fixture(scope="module")
def by_file(texts: dict[str, str]) -> dict[str, list[GoldenCase]]:
    # load_golden with section_ids fails on any unknown id and on duplicate ids across files.
    files = default_golden_files()
    everything = load_golden(files, section_ids=set(texts))
    assert len(everything) == sum(len(load_golden([f])) for f in files)
    return {f.name: load_golden([f], section_ids=set(texts)) for f in files}


@pytest.fixture(scope="module")
def cases(by_file: dict[str, list[GoldenCase]]) -> list[GoldenCase]:
    return [case for file_cases in by_file.values() for case in file_cases]


def cites(case: GoldenCase, section_id: str) -> bool:
    return any(s == section_id or s.startswith(section_id + "/") for s in case.expected_sources)


def test_all_files_present_with_minimum_counts(by_file: dict[str, list[GoldenCase]]) -> None:
    assert set(MIN_CASES) <= set(by_file), f"missing golden files: {set(MIN_CASES) - set(by_file)}"
    for name, minimum in MIN_CASES.items():
        assert len(by_file[name]) >= minimum, f"{name}: {len(by_file[name])} cases < {minimum}"
    assert sum(len(c) for c in by_file.values()) >= 190


def test_every_staff_section_covered_twice(blueprints: list[Blueprint], by_file: dict[str, list[GoldenCase]]) -> None:
    staff = next(b for b in blueprints if b.slug == STAFF)
    assert len(staff.sections) == 20
    for section in staff.sections:
        hits = [c.id for c in by_file["staff.jsonl"] if cites(c, section.id)]
        assert len(hits) >= 2, f"{section.id} is cited by {len(hits)} staff case(s): {hits}"


def test_staff_kpi_rows_covered(by_file: dict[str, list[GoldenCase]], blueprints: list[Blueprint]) -> None:
    staff = next(b for b in blueprints if b.slug == STAFF)
    kpis = staff.section(f"{STAFF}/kpis-and-productivity-metrics")
    assert kpis is not None
    rows = [b for b in kpis.blocks if b.kind == "table_row" and b.cells]
    kpi_cases = [c for c in by_file["staff.jsonl"] if cites(c, kpis.id)]
    covered = set()
    for row in rows:
        target = normalize(row.cells.get("Example target", ""))  # type: ignore[union-attr]
        for case in kpi_cases:
            if any(normalize(v) in target for f in case.expected_facts for v in f.any_of if len(v) > 3):
                covered.add(row.label)
    assert len(covered) >= 12, f"only {len(covered)} KPI targets checked: {sorted(covered)}"


def test_every_other_role_has_cases(by_file: dict[str, list[GoldenCase]]) -> None:
    for slug in OTHER_ROLES:
        hits = [c.id for c in by_file["career_roles.jsonl"] if cites(c, slug)]
        assert len(hits) >= 4, f"{slug}: {len(hits)} cases"


def test_adversarial_slices(by_file: dict[str, list[GoldenCase]]) -> None:
    adversarial = by_file["adversarial.jsonl"]
    counts = Counter(c.slice for c in adversarial)
    for slice_name, minimum in MIN_ADVERSARIAL.items():
        assert counts[slice_name] >= minimum, f"{slice_name}: {counts[slice_name]} < {minimum}"
    injection = [c for c in adversarial if c.slice == "injection"]
    assert sum(c.must_block for c in injection) >= MIN_INJECTION_BLOCKED
    assert sum(not c.must_block for c in injection) >= MIN_BENIGN_LOOKALIKES
    for case in adversarial:
        if case.slice in ("refusal", "abstain"):
            assert case.must_refuse and not case.expected_sources, case.id
        if case.slice == "leading" or (case.slice == "injection" and not case.must_block) or case.slice == "pii":
            assert not case.must_refuse and not case.must_block, case.id
            assert case.expected_sources and case.expected_facts, case.id


def test_multi_turn_cases_are_conversations(by_file: dict[str, list[GoldenCase]]) -> None:
    for case in by_file["multi_turn.jsonl"]:
        assert case.messages is not None and len(case.messages) >= 3, case.id
        assert [t.role for t in case.messages[:2]] == ["user", "assistant"], case.id
        # A conversation that never named a role must be asked which one: nothing to cite.
        assert case.must_refuse or (case.expected_sources and case.expected_facts), case.id


def test_answerable_cases_expect_sources_and_facts(cases: list[GoldenCase]) -> None:
    answerable = [c for c in cases if not (c.must_refuse or c.must_block)]
    for case in answerable:
        assert case.expected_sources, f"{case.id}: no expected_sources"
        assert 1 <= len(case.expected_facts) <= 3, f"{case.id}: {len(case.expected_facts)} facts"


def test_facts_are_written_in_a_cited_section(cases: list[GoldenCase], texts: dict[str, str]) -> None:
    # The canonical spelling (the first) must be verbatim in the corpus; variants are free.
    problems = []
    for case in cases:
        sources = [texts[s] for s in case.expected_sources]
        for fact in case.expected_facts:
            assert len(fact.label) <= 60, f"{case.id}: fact too long: {fact.label!r}"
            if not any(normalize(fact.label) in text for text in sources):
                problems.append(f"{case.id}: {fact.label!r} not in {case.expected_sources}")
    assert not problems, "\n".join(problems)


def test_leading_premises_are_not_in_the_sources(cases: list[GoldenCase], texts: dict[str, str]) -> None:
    leading = [c for c in cases if c.slice == "leading"]
    assert sum(bool(c.must_not_contain) for c in leading) >= 6
    for case in leading:
        for false_value in case.must_not_contain:
            for source in case.expected_sources:
                assert normalize(false_value) not in texts[source], f"{case.id}: {false_value!r} is in {source}"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def test_pii_cases_carry_real_looking_pii(by_file: dict[str, list[GoldenCase]]) -> None:
    pii = [c for c in by_file["adversarial.jsonl"] if c.slice == "pii"]
    found: Counter[str] = Counter()
    for case in pii:
        assert case.must_not_contain, case.id
        for value in case.must_not_contain:
            # Each forbidden string is something the user typed, spaced or compact.
            compact_question = case.final_question.replace(" ", "")
            assert value in case.final_question or value.replace(" ", "") in compact_question, (case.id, value)
        question = case.final_question
        if re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", question):
            found["email"] += 1
        if re.search(r"\b\d{3}-\d{2}-\d{4}\b", question):
            found["ssn"] += 1
        if re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", question):
            found["ip"] += 1
        for card in re.findall(r"\b(?:\d{4} ){3}\d{4}\b", question):
            if _luhn_ok(card.replace(" ", "")):
                found["card"] += 1
        for iban in re.findall(r"\b[A-Z]{2}\d{2}(?: ?\d{4}){4} ?\d{2}\b", question):
            if _iban_ok(iban):
                found["iban"] += 1
    for kind in ("email", "ssn", "ip", "card", "iban"):
        assert found[kind] >= 1, f"no pii case with a valid {kind}: {dict(found)}"


def test_audiences_and_role_filters_used_sparingly(cases: list[GoldenCase], texts: dict[str, str]) -> None:
    audiences = Counter(c.audience for c in cases)
    assert audiences["employee"] >= 3 and audiences["manager"] >= 3
    assert audiences["evaluator"] > len(cases) // 2
    with_role = [c for c in cases if c.role]
    assert 1 <= len(with_role) <= 15
    slugs = {s.split("/", 1)[0] for s in texts}
    for case in with_role:
        assert case.role in slugs, case.id
        assert all(s.startswith(case.role + "/") for s in case.expected_sources), case.id


def test_normalize_matches_the_documented_rule() -> None:
    assert normalize("  8\u201312+ Years\n") == "8-12+ years"
    assert normalize("p95 < 200\u2013500ms") == "p95 < 200-500ms"
    assert normalize("\u201cmake it smarter\u201d") == '"make it smarter"'
