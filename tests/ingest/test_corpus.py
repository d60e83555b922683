"""The shipped corpus: structure, front matter, cross-links, and no fact of the seed lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrieval.documents import Blueprint
from retrieval.ingest import load_paths

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
SEED = "seeds/staff-applied-ai-engineer.wp.json"

SECTION_TITLES = [
    "Role Summary", "Role Mission", "Core Responsibilities", "Day-to-Day Activities",
    "Key Deliverables", "Goals, Objectives, and Milestones", "KPIs and Productivity Metrics",
    "Technical Skills Required", "Soft Skills and Behavioral Capabilities",
    "Tools, Platforms, and Software", "Typical Tech Stack / Environment",
    "Stakeholders and Collaboration Map", "Decision Rights and Scope of Authority",
    "Required Experience and Qualifications", "Career Path and Progression",
    "Risks, Challenges, and Failure Modes", "Role Variants", "AI / Automation Impact on the Role",
    "Hiring Evaluation Criteria", "Final Role Scorecard Summary",
]
EXPECTED_SLUGS = {
    "staff-applied-ai-engineer", "senior-applied-ai-engineer", "senior-ml-engineer",
    "mlops-engineer", "principal-applied-ai-engineer", "engineering-manager-applied-ai",
    "ai-platform-lead", "staff-data-engineer", "staff-backend-engineer",
}
KPI_HEADERS = ["KPI", "What it measures", "Why it matters", "Example target", "Frequency"]
TOOL_HEADERS = ["Category", "Tool / platform", "Primary use", "Adoption"]
SCORECARD_HEADERS = ["Dimension", "Weight", "Meets the bar", "Excellent"]
SUMMARY_HEADERS = ["Category", "Summary"]


@pytest.fixture(scope="module")
def corpus() -> dict[str, Blueprint]:
    report = load_paths([CORPUS])
    assert report.errors == [], [str(e) for e in report.errors]
    return {b.slug: b for b in report.blueprints}


@pytest.fixture(scope="module")
def seed(shared_dir: Path) -> Blueprint:
    return load_paths([shared_dir / SEED]).blueprints[0]


def _rows(section, headers: list[str]):
    return [r for s in section.walk() for t in s.tables() for r in t if list(r.cells) == headers]


def test_every_expected_role_is_present(corpus: dict[str, Blueprint]) -> None:
    assert set(corpus) == EXPECTED_SLUGS


@pytest.mark.parametrize("slug", sorted(EXPECTED_SLUGS))
def test_role_structure(corpus: dict[str, Blueprint], slug: str) -> None:
    bp = corpus[slug]
    for field in ("role", "slug", "family", "level", "version", "source"):
        assert getattr(bp, field), f"{slug}: front matter field {field!r} missing"
    numbered = [s for s in bp.sections if s.number is not None]
    assert [s.title for s in numbered] == SECTION_TITLES
    assert [s.number for s in numbered] == list(range(1, 21))
    assert bp.sample is (slug != "staff-applied-ai-engineer")
    kpis = _rows(bp.find_section("KPIs"), KPI_HEADERS)
    assert len(kpis) >= 10 and all(r.cells["Example target"] and r.cells["Frequency"] for r in kpis)
    tools = _rows(bp.find_section("Tools"), TOOL_HEADERS)
    assert len(tools) >= 15
    assert all(re.match(r"^(Common|Optional|Context-specific)\b", r.cells["Adoption"]) for r in tools)
    weights = _rows(bp.find_section("Hiring"), SCORECARD_HEADERS)
    assert sum(int(r.cells["Weight"].rstrip("%")) for r in weights) == 100
    assert _rows(bp.find_section("Final Role Scorecard"), SUMMARY_HEADERS)


def test_career_links_resolve(corpus: dict[str, Blueprint]) -> None:
    for slug, bp in corpus.items():
        related = bp.metadata.get("related") or {}
        for kind in ("feeders", "next", "adjacent"):
            for target in related.get(kind, []):
                assert target in corpus, f"{slug}: related.{kind} names unknown role {target!r}"
        text = (CORPUS / f"{slug}.md").read_text()
        for link in re.findall(r"\]\(([^)]+\.md)\)", text):
            assert (CORPUS / link).is_file(), f"{slug}: link to missing file {link}"


def test_levels_are_consistent(corpus: dict[str, Blueprint]) -> None:
    order = {"senior": 1, "staff": 2, "manager": 2, "principal": 3}
    for slug, bp in corpus.items():
        for target in (bp.metadata.get("related") or {}).get("next", []):
            assert order[corpus[target].level] >= order[bp.level], f"{slug} -> {target}"


# --- the seed's facts survive the rewrite -------------------------------------------------


def test_seed_kpis_kept(seed: Blueprint, corpus: dict[str, Blueprint]) -> None:
    seed_rows = seed.find_section("KPIs").tables()[0]
    ours = _rows(corpus["staff-applied-ai-engineer"].find_section("KPIs"), KPI_HEADERS)
    expected = [(r.cells["Metric name"], r.cells["Example target / benchmark"], r.cells["Frequency"]) for r in seed_rows]
    assert [(r.cells["KPI"], r.cells["Example target"], r.cells["Frequency"]) for r in ours] == expected
    assert all(r.cells["What it measures"] and r.cells["Why it matters"] for r in ours)


def test_seed_tools_kept(seed: Blueprint, corpus: dict[str, Blueprint]) -> None:
    seed_rows = seed.find_section("Tools").tables()[0]
    ours = _rows(corpus["staff-applied-ai-engineer"].find_section("Tools"), TOOL_HEADERS)
    expected = [
        (r.cells["Category"], r.cells["Tool / Platform"], r.cells["Common / Optional / Context-specific"])
        for r in seed_rows
    ]
    assert [(r.cells["Category"], r.cells["Tool / platform"], r.cells["Adoption"]) for r in ours] == expected


def test_seed_scorecard_and_summary_kept(seed: Blueprint, corpus: dict[str, Blueprint]) -> None:
    staff = corpus["staff-applied-ai-engineer"]
    seed_dims = [(r.cells["Dimension"], r.cells["Weight"]) for s in seed.find_section("Hiring").walk() for t in s.tables() for r in t]
    ours = [(r.cells["Dimension"], r.cells["Weight"]) for r in _rows(staff.find_section("Hiring"), SCORECARD_HEADERS)]
    assert ours == seed_dims
    seed_cats = [r.cells["Category"] for r in seed.find_section("Final Role Scorecard").tables()[0]]
    our_cats = [r.cells["Category"] for r in _rows(staff.find_section("Final Role Scorecard"), SUMMARY_HEADERS)]
    assert our_cats == seed_cats


def test_seed_subsections_kept(seed: Blueprint, corpus: dict[str, Blueprint]) -> None:
    staff = corpus["staff-applied-ai-engineer"]
    assert [s.title for s in staff.walk() if s.level == 3] == [s.title for s in seed.walk() if s.level == 3]


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:[.,]\d+)?", text))


def test_seed_numbers_kept(seed: Blueprint, corpus: dict[str, Blueprint]) -> None:
    def all_text(bp: Blueprint) -> str:
        return " ".join(b.text + " " + s.title for s in bp.walk() for b in s.blocks)

    missing = _numbers(all_text(seed)) - _numbers(all_text(corpus["staff-applied-ai-engineer"]))
    assert not missing, f"numbers in the seed but not in the corpus: {sorted(missing)}"


def test_seed_list_items_have_counterparts(seed: Blueprint, corpus: dict[str, Blueprint]) -> None:
    """Each sub-section keeps at least as many items as the seed (facts are restated, not merged away)."""
    staff = corpus["staff-applied-ai-engineer"]
    ours = {s.title: s for s in staff.walk()}
    for section in seed.walk():
        seed_items = [b for b in section.blocks if b.kind == "list_item"]
        if not seed_items:
            continue
        counterpart = ours[section.title]
        our_items = [b for b in counterpart.blocks if b.kind == "list_item"]
        # Lead-in items of the seed's flattened sub-lists may be folded into a paragraph.
        assert len(our_items) >= len(seed_items) - 1, section.title
