"""Loader behaviour on good and bad files: clear per-file errors, the rest still read."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.ingest import load_paths
from retrieval.loaders.registry import loader_for

MARKDOWN = """---
role: Test Engineer
slug: test-engineer
family: testing
level: senior
version: "2.1"
source: unit test
---

# Test Engineer

## 1) Role Summary

A paragraph about the role.

- **Lead item:** first item text
  - nested detail
- second item

## 7) KPIs and Productivity Metrics

| KPI | What it measures | Why it matters | Example target | Frequency |
|---|---|---|---|---|
| Flaky test rate | Share of tests that flip | Trust in CI | < 1% | Weekly |
| Escaped defects | Bugs found in production | Quality | < 2 per release | Per release |

### Notes

Targets are examples.
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_structure(tmp_path: Path) -> None:
    report = load_paths([_write(tmp_path, "t.md", MARKDOWN)])
    assert report.errors == []
    bp = report.blueprints[0]
    assert (bp.slug, bp.family, bp.level, bp.version) == ("test-engineer", "testing", "senior", "2.1")
    summary = bp.section("test-engineer/role-summary")
    assert [b.kind for b in summary.blocks] == ["paragraph", "list_item", "list_item", "list_item"]
    assert summary.blocks[1].label == "Lead item"
    assert summary.blocks[2].depth == 1
    kpis = bp.section("test-engineer/kpis-and-productivity-metrics")
    rows = kpis.tables()[0]
    assert [r.label for r in rows] == ["Flaky test rate", "Escaped defects"]
    assert rows[1].cells["Example target"] == "< 2 per release"
    assert kpis.subsections[0].id == "test-engineer/kpis-and-productivity-metrics/notes"
    assert kpis.subsections[0].path == ["Test Engineer", "KPIs and Productivity Metrics", "Notes"]


def test_html_loader(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Data Wrangler</title></head><body><h1>Data Wrangler</h1>"
        "<h2>1) Role Summary</h2><p>Wrangles data.</p>"
        "<h2>2) Tools</h2><table><tr><th>Tool</th><th>Use</th></tr>"
        "<tr><td>Spark</td><td>Batch jobs</td></tr></table></body></html>"
    )
    bp = load_paths([_write(tmp_path, "d.html", html)]).blueprints[0]
    assert bp.slug == "data-wrangler"
    assert bp.sections[1].blocks[0].cells == {"Tool": "Spark", "Use": "Batch jobs"}


def test_bad_files_reported_and_rest_read(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.md", MARKDOWN)
    broken = _write(tmp_path, "broken.json", '{"title": {"rendered": "x"}, "content": ')
    empty_post = _write(
        tmp_path, "empty.wp.json", json.dumps({"title": {"rendered": "Empty"}, "content": {"rendered": ""}})
    )
    blank = _write(tmp_path, "blank.md", "   \n")
    unknown = _write(tmp_path, "notes.docx", "binary-ish")
    missing = tmp_path / "nope.md"
    report = load_paths([good, broken, empty_post, blank, unknown, missing])
    assert [b.slug for b in report.blueprints] == ["test-engineer"]
    reasons = {e.path.name: e.reason for e in report.errors}
    assert reasons["broken.json"].startswith("malformed JSON at line 1")
    assert "empty document" in reasons["empty.wp.json"]
    assert reasons["blank.md"] == "empty file"
    assert reasons["notes.docx"].startswith("unknown format")
    assert reasons["nope.md"] == "no such file or folder"


def test_folder_skips_readme_and_unknown_suffixes(tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "# About this folder\n\nnot a blueprint")
    _write(tmp_path, "role.md", MARKDOWN)
    _write(tmp_path, "image.png", "x")
    report = load_paths([tmp_path])
    assert [f.name for f in report.files] == ["role.md"]
    assert report.ok


def test_duplicate_slug_is_an_error(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.md", MARKDOWN)
    b = _write(tmp_path, "b.md", MARKDOWN)
    report = load_paths([a, b])
    assert len(report.blueprints) == 1
    assert "duplicate slug" in report.errors[0].reason


def test_wordpress_collection_export(tmp_path: Path) -> None:
    posts = [
        {"title": {"rendered": "Alpha Engineer: Blueprint"}, "content": {"rendered": "<h2>1) Role Summary</h2><p>A.</p>"}, "link": "https://example.test/a"},
        {"title": {"rendered": "Beta Engineer"}, "content": {"rendered": "<h2>1) Role Summary</h2><p>B.</p>"}},
    ]
    report = load_paths([_write(tmp_path, "posts.json", json.dumps(posts))])
    assert [b.slug for b in report.blueprints] == ["alpha-engineer", "beta-engineer"]
    assert report.blueprints[0].source == "https://example.test/a"


def test_loader_for_prefers_wordpress_for_json() -> None:
    assert loader_for(Path("x.wp.json")).name == "wordpress"
    assert loader_for(Path("x.MD")).name == "markdown"
