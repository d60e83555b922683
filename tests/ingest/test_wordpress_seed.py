"""The seed export parses into the blueprint's 20 sections and every KPI row.

Expected counts are read from the raw HTML with a different method (regular
expressions over the markup) so the test does not just echo the parser.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from retrieval.ingest import load_paths

SEED_NAME = "seeds/staff-applied-ai-engineer.wp.json"


@pytest.fixture(scope="module")
def seed_html(shared_dir: Path) -> str:
    return json.loads((shared_dir / SEED_NAME).read_text())["content"]["rendered"]


@pytest.fixture(scope="module")
def seed_blueprint(shared_dir: Path):
    report = load_paths([shared_dir / SEED_NAME])
    assert report.errors == []
    assert len(report.blueprints) == 1
    return report.blueprints[0]


def _h2_titles(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.DOTALL)]


def _section_html(html: str, number: int) -> str:
    parts = re.split(r"(?=<h2[^>]*>)", html)
    return next(p for p in parts if re.match(rf"<h2[^>]*>\s*{number}\)", p))


def test_seed_has_twenty_numbered_sections(seed_html: str, seed_blueprint) -> None:
    titles = _h2_titles(seed_html)
    assert len(titles) == 20
    parsed = [s for s in seed_blueprint.sections if s.number is not None]
    assert [s.number for s in parsed] == list(range(1, 21))
    assert [f"{s.number}) {s.title}" for s in parsed] == titles


def test_seed_metadata(seed_blueprint) -> None:
    assert seed_blueprint.role == "Staff Applied AI Engineer"
    assert seed_blueprint.slug == "staff-applied-ai-engineer"
    assert seed_blueprint.level == "staff"
    assert seed_blueprint.source.startswith("https://")


def test_seed_kpi_rows_all_present(seed_html: str, seed_blueprint) -> None:
    kpi_html = _section_html(seed_html, 7)
    body = re.search(r"<tbody>(.*?)</tbody>", kpi_html, re.DOTALL).group(1)
    source_rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    source_names = [
        html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<td>(.*?)</td>", row, re.DOTALL).group(1))).strip()
        for row in source_rows
    ]
    section = seed_blueprint.find_section("KPIs")
    tables = section.tables()
    assert len(tables) == 1
    rows = tables[0]
    assert len(rows) == len(source_rows)
    assert [r.label for r in rows] == source_names
    # A row keeps its name, measure, target and frequency together.
    availability = next(r for r in rows if r.label == "Inference availability")
    assert availability.cells["Example target / benchmark"] == "99.9%+ (context-specific)"
    assert availability.cells["Frequency"] == "Daily / Monthly"
    assert "99.9%+" in availability.text and "Inference availability" in availability.text


def test_seed_tool_rows_and_scorecard(seed_html: str, seed_blueprint) -> None:
    tools_html = _section_html(seed_html, 10)
    expected = len(re.findall(r"<tr>", re.search(r"<tbody>(.*?)</tbody>", tools_html, re.DOTALL).group(1)))
    tool_rows = seed_blueprint.find_section("Tools").tables()[0]
    assert len(tool_rows) == expected
    assert all(set(r.cells) == {"Category", "Tool / Platform", "Primary use",
                                "Common / Optional / Context-specific"} for r in tool_rows)
    scorecard = seed_blueprint.find_section("Hiring").walk()
    weights = [
        r.cells["Weight"] for s in scorecard for t in s.tables() for r in t if "Weight" in r.cells
    ]
    assert weights == ["20%", "20%", "20%", "15%", "15%", "10%"]


def test_seed_sub_sections_match_h3(seed_html: str, seed_blueprint) -> None:
    h3 = [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<h3[^>]*>(.*?)</h3>", seed_html, re.DOTALL)]
    parsed = [s.title for s in seed_blueprint.walk() if s.level == 3]
    assert parsed == h3


def test_dash_pseudo_lists_become_items(seed_blueprint) -> None:
    mission = seed_blueprint.section("staff-applied-ai-engineer/role-mission")
    nested = [b for b in mission.blocks if b.kind == "list_item" and b.depth == 1]
    assert len(nested) == 4
    assert nested[0].text.startswith("Ship AI-enabled product capabilities")
