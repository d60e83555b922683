"""The structured form of a role blueprint, shared by every loader and the chunker.

A blueprint is a tree of sections; each section holds an ordered list of
blocks (paragraphs, list items, table rows). Table rows keep their cells
keyed by column header so a KPI row travels with its name, measure, target
and frequency together, whatever the source format was.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BlockKind = Literal["paragraph", "list_item", "table_row"]


def slugify(text: str) -> str:
    """Lower-case ASCII slug: 'KPIs and Productivity Metrics' -> 'kpis-and-productivity-metrics'."""
    normalized = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", normalized.lower()).strip("-")


class Block(BaseModel):
    """One unit of content inside a section, in reading order."""

    model_config = ConfigDict(frozen=True)

    kind: BlockKind
    text: str
    # Table rows only: header -> cell text, in column order.
    cells: dict[str, str] | None = None
    # List items that open with a bold lead ("**Own technical strategy** ...").
    label: str | None = None
    # Nesting depth of a list item (0 = top level).
    depth: int = 0


class Section(BaseModel):
    """A heading with its blocks and sub-sections. ``id`` is stable across re-ingests."""

    id: str
    title: str
    number: int | None = None
    level: int
    path: list[str]
    blocks: list[Block] = Field(default_factory=list)
    subsections: list[Section] = Field(default_factory=list)

    def walk(self) -> Iterator[Section]:
        yield self
        for child in self.subsections:
            yield from child.walk()

    def tables(self) -> list[list[Block]]:
        """Consecutive table-row blocks grouped into tables (own blocks only)."""
        groups: list[list[Block]] = []
        current: list[Block] = []
        for block in self.blocks:
            if block.kind == "table_row":
                if current and list((current[-1].cells or {}).keys()) != list(
                    (block.cells or {}).keys()
                ):
                    groups.append(current)
                    current = []
                current.append(block)
            elif current:
                groups.append(current)
                current = []
        if current:
            groups.append(current)
        return groups


class Blueprint(BaseModel):
    """A parsed role blueprint with its front-matter metadata."""

    title: str
    slug: str
    role: str
    family: str | None = None
    level: str | None = None
    version: str | None = None
    source: str | None = None
    sample: bool = False
    metadata: dict[str, object] = Field(default_factory=dict)
    summary: str | None = None
    sections: list[Section] = Field(default_factory=list)

    def walk(self) -> Iterator[Section]:
        for section in self.sections:
            yield from section.walk()

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.walk() if s.id == section_id), None)

    def find_section(self, keyword: str) -> Section | None:
        """First top-level section whose title contains ``keyword`` (case-insensitive)."""
        key = keyword.lower()
        return next((s for s in self.sections if key in s.title.lower()), None)
