"""The Loader seam and the builder every loader feeds.

Loaders read a format and emit a flat stream of headings, paragraphs, list
items and table rows; ``BlueprintBuilder`` turns that stream into the section
tree, so all formats share one notion of structure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from retrieval.documents import Block, Blueprint, Section, slugify

_NUMBERED = re.compile(r"^\s*(\d{1,2})\s*[).:-]\s*(.+)$")
_SPACES = re.compile(r"[ \t\u00a0]+")
_LEVELS = ("intern", "junior", "mid", "senior", "staff", "principal", "distinguished")


class Loader(Protocol):
    name: str
    suffixes: tuple[str, ...]

    def load(self, path: Path) -> list[Blueprint]:
        """Parse one file; raise ``IngestError`` with a clear reason when it cannot."""


def clean(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n")]
    return "\n".join(line for line in lines if line)


def split_role_title(title: str) -> str:
    """'Staff Applied AI Engineer: Role Blueprint, ...' -> 'Staff Applied AI Engineer'."""
    head = re.split(r"\s*[:|–—]\s+|\s+-\s+", title, maxsplit=1)[0]
    return head.strip() or title.strip()


def guess_level(role: str) -> str | None:
    words = role.lower().split()
    for level in _LEVELS:
        if level in words:
            return level
    if "manager" in words:
        return "manager"
    return None


class BlueprintBuilder:
    """Assembles headings and blocks into a ``Blueprint`` section tree."""

    def __init__(self, *, title: str, slug: str, role: str, **meta: object) -> None:
        self._blueprint = Blueprint(title=title, slug=slug, role=role, **meta)  # type: ignore[arg-type]
        self._stack: list[Section] = []
        self._preamble: list[Block] = []

    def heading(self, level: int, text: str) -> None:
        text = clean(text).replace("\n", " ")
        if not text:
            return
        if level <= 1:
            return  # the document title; already known
        number: int | None = None
        match = _NUMBERED.match(text)
        title = text
        if match and level == 2:
            number, title = int(match.group(1)), match.group(2).strip()
        while self._stack and self._stack[-1].level >= level:
            self._stack.pop()
        parent = self._stack[-1] if self._stack else None
        base = parent.id if parent else self._blueprint.slug
        section_id = f"{base}/{slugify(title)}"
        siblings = parent.subsections if parent else self._blueprint.sections
        taken = {s.id for s in siblings}
        suffix = 2
        unique_id = section_id
        while unique_id in taken:
            unique_id = f"{section_id}-{suffix}"
            suffix += 1
        path = (parent.path if parent else [self._blueprint.role]) + [title]
        section = Section(id=unique_id, title=title, number=number, level=level, path=path)
        siblings.append(section)
        self._stack.append(section)

    def _add(self, block: Block) -> None:
        if self._stack:
            self._stack[-1].blocks.append(block)
        else:
            self._preamble.append(block)

    def paragraph(self, text: str) -> None:
        text = clean(text)
        if text:
            self._add(Block(kind="paragraph", text=text.replace("\n", " ")))

    def list_item(self, text: str, *, label: str | None = None, depth: int = 0) -> None:
        text = clean(text).replace("\n", " ")
        if text:
            label = clean(label).rstrip(":").strip() if label else None
            self._add(Block(kind="list_item", text=text, label=label or None, depth=depth))

    def table_row(self, headers: list[str], cells: list[str]) -> None:
        headers = [clean(h).replace("\n", " ") for h in headers]
        values = [clean(c).replace("\n", " ") for c in cells]
        if not any(values):
            return
        row = dict(zip(headers, values + [""] * (len(headers) - len(values)), strict=False))
        text = "; ".join(f"{h}: {v}" for h, v in row.items() if v)
        self._add(Block(kind="table_row", text=text, cells=row, label=values[0] or None))

    def build(self) -> Blueprint:
        blueprint = self._blueprint
        if self._preamble:
            if not blueprint.summary:
                paragraphs = [b.text for b in self._preamble if b.kind == "paragraph"]
                blueprint.summary = " ".join(paragraphs) or None
            # Text before the first heading stays searchable under its own section.
            overview = Section(
                id=f"{blueprint.slug}/overview",
                title="Overview",
                level=2,
                path=[blueprint.role, "Overview"],
                blocks=self._preamble,
            )
            blueprint.sections.insert(0, overview)
        return blueprint
