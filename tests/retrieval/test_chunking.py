"""Chunk boundary rules on the real corpus and on small hand-made blueprints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrieval.chunking import PATH_SEPARATOR, Chunk, Chunker, ChunkerSettings, chunk_blueprints
from retrieval.documents import Blueprint
from retrieval.ingest import load_paths
from retrieval.loaders.base import BlueprintBuilder
from retrieval.tokens import count_tokens


@pytest.fixture(scope="module")
def chunks(corpus_blueprints: list[Blueprint]) -> list[Chunk]:
    return chunk_blueprints(corpus_blueprints)


def _body_lines(chunk: Chunk) -> list[str]:
    return [re.sub(r"^\s*- ", "", line) for line in chunk.text.split("\n")]


def test_no_chunk_straddles_sections(
    corpus_blueprints: list[Blueprint], chunks: list[Chunk]
) -> None:
    sections = {s.id: s for b in corpus_blueprints for s in b.walk()}
    for chunk in chunks:
        own_text = " ".join(block.text for block in sections[chunk.section_id].blocks)
        for line in _body_lines(chunk):
            assert line in own_text, f"{chunk.id}: {line[:60]!r} is not from {chunk.section_id}"


def test_every_block_is_indexed(corpus_blueprints: list[Blueprint], chunks: list[Chunk]) -> None:
    by_section: dict[str, str] = {}
    for chunk in chunks:
        by_section[chunk.section_id] = (
            by_section.get(chunk.section_id, "") + " " + " ".join(_body_lines(chunk))
        )
    for blueprint in corpus_blueprints:
        for section in blueprint.walk():
            for block in section.blocks:
                assert block.text in by_section.get(section.id, ""), (section.id, block.text[:60])


def test_table_rows_stay_whole(corpus_blueprints: list[Blueprint], chunks: list[Chunk]) -> None:
    rows = [
        (s, b)
        for bp in corpus_blueprints
        for s in bp.walk()
        for b in s.blocks
        if b.kind == "table_row"
    ]
    row_chunks = [c for c in chunks if c.kind == "table_row"]
    assert len(row_chunks) == len(rows) > 0
    for (section, block), chunk in zip(rows, row_chunks, strict=True):
        assert chunk.text == block.text
        assert chunk.section_id == section.id
        assert chunk.metadata["cells"] == block.cells
        assert chunk.section_path == [*section.path, block.label]


def test_kpi_row_keeps_all_columns(chunks: list[Chunk]) -> None:
    [row] = [
        c
        for c in chunks
        if c.doc_slug == "staff-applied-ai-engineer"
        and c.section_path[-1] == "Inference availability"
    ]
    assert row.kind == "table_row"
    assert row.path_text == PATH_SEPARATOR.join(
        ["Staff Applied AI Engineer", "KPIs and Productivity Metrics", "Inference availability"]
    )
    assert row.indexed_text.startswith(row.path_text + "\n")
    for column in ("KPI", "What it measures", "Why it matters", "Example target", "Frequency"):
        assert row.metadata["cells"][column], column
        assert f"{column}: " in row.text
    assert "99.9%" in row.text
    assert row.metadata["section_number"] == 7
    assert row.metadata["role"] == "staff-applied-ai-engineer"
    assert row.metadata["level"] == "staff" and row.metadata["family"] == "applied-ai"


@pytest.mark.parametrize("max_tokens", [64, 320])
def test_token_bound(corpus_blueprints: list[Blueprint], max_tokens: int) -> None:
    chunks = chunk_blueprints(corpus_blueprints, max_tokens=max_tokens, min_tokens=10)
    for chunk in chunks:
        if chunk.kind != "table_row":  # rows are whole by rule, whatever their length
            assert count_tokens(chunk.indexed_text) <= max_tokens, chunk.indexed_text


def test_path_prefix_on_every_chunk(chunks: list[Chunk]) -> None:
    for chunk in chunks:
        assert chunk.indexed_text == PATH_SEPARATOR.join(chunk.section_path) + "\n" + chunk.text
        assert chunk.section_path[0] == chunk.doc_title


def test_ids_are_stable_and_unique(chunks: list[Chunk], corpus_dir: Path) -> None:
    again = chunk_blueprints(load_paths([corpus_dir]).blueprints)
    assert [c.id for c in again] == [c.id for c in chunks]
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(re.fullmatch(r"[0-9a-f]{16}", c.id) for c in chunks)


def _blueprint(
    paragraphs: list[str] = (), items: list[str] = (), nested: bool = False
) -> Blueprint:
    builder = BlueprintBuilder(
        title="Test Role", slug="test-role", role="Test Role", family="x", level="staff"
    )
    builder.heading(2, "1) Section One")
    for text in paragraphs:
        builder.paragraph(text)
    for i, text in enumerate(items):
        builder.list_item(text, depth=1 if nested and i % 2 else 0)
    builder.heading(2, "2) Section Two")
    builder.paragraph("A short paragraph in the second section.")
    return builder.build()


def test_oversized_block_is_split_at_sentence_boundaries() -> None:
    sentences = [
        f"Sentence number {i} explains one more aspect of the role in plain words."
        for i in range(40)
    ]
    blueprint = _blueprint(paragraphs=[" ".join(sentences)])
    chunks = Chunker(ChunkerSettings(max_tokens=100, min_tokens=20)).chunk_blueprint(blueprint)
    first = [c for c in chunks if c.section_id == "test-role/section-one"]
    assert len(first) > 1
    for chunk in first:
        assert count_tokens(chunk.indexed_text) <= 100
        assert chunk.text.endswith(".")
        assert chunk.text.startswith("Sentence number")
    assert " ".join(c.text for c in first) == " ".join(sentences)
    sizes = [count_tokens(c.text) for c in first]
    assert min(sizes) >= 20  # balanced: no runt tail


def test_list_items_grouped_up_to_bound_and_sections_separate() -> None:
    items = [f"Item {i}: the engineer does task number {i} with care." for i in range(30)]
    blueprint = _blueprint(items=items)
    chunks = Chunker(ChunkerSettings(max_tokens=80, min_tokens=10)).chunk_blueprint(blueprint)
    first = [c for c in chunks if c.section_id == "test-role/section-one"]
    assert 1 < len(first) < len(items)
    assert all(c.kind == "list" for c in first)
    assert [line for c in first for line in c.text.split("\n")] == [f"- {t}" for t in items]
    second = [c for c in chunks if c.section_id == "test-role/section-two"]
    assert [c.text for c in second] == ["A short paragraph in the second section."]


def test_nested_items_stay_with_their_parent() -> None:
    items = [f"Item {i} of a nested list, with enough words to matter." for i in range(12)]
    blueprint = _blueprint(items=items, nested=True)
    chunks = Chunker(ChunkerSettings(max_tokens=70, min_tokens=5)).chunk_blueprint(blueprint)
    for chunk in chunks:
        if chunk.section_id == "test-role/section-one":
            assert chunk.text.startswith("- "), "a chunk must not open with a nested item"


def test_small_pieces_merge_within_a_section() -> None:
    blueprint = _blueprint(paragraphs=["Short one.", "Short two.", "Short three."])
    chunks = Chunker(ChunkerSettings(max_tokens=200, min_tokens=40)).chunk_blueprint(blueprint)
    first = [c for c in chunks if c.section_id == "test-role/section-one"]
    assert [c.text for c in first] == ["Short one.\nShort two.\nShort three."]
    assert first[0].kind == "text"
