"""Blueprint-aware chunking.

Rules (each one exists so a retrieved chunk can be quoted on its own):

* A chunk never straddles two sections: each section's own blocks are chunked
  separately from its sub-sections.
* A table row is one chunk, whole. A KPI row keeps name, measure, why, target and
  frequency together; splitting it would separate a target from its KPI. Rows are
  never packed with other blocks and never split, even when long.
* Paragraphs and list items that follow each other are packed into one chunk up
  to ``max_tokens`` (tiktoken count of the indexed text, section path included).
  A nested list item stays with the item it belongs to.
* A block too long for one chunk is split at sentence boundaries into pieces of
  similar size (so no tiny tail is left); a single sentence over the bound is cut
  between words.
* A chunk under ``min_tokens`` is merged into its neighbour in the same run when
  the result still fits.

The section path ("Staff Applied AI Engineer › KPIs and Productivity Metrics ›
Inference availability") is prefixed to the body for both BM25 and the
embedding, because a row such as "99.9%+ ... Daily / Monthly" means nothing
without the role and KPI it belongs to.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrieval.documents import Block, Blueprint, Section
from retrieval.tokens import count_tokens

ChunkKind = Literal["text", "list", "table_row"]

PATH_SEPARATOR = " › "
# Bumped whenever the rules above change the chunks produced from the same input.
CHUNKER_VERSION = 1

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"“‘(\[]?[A-Z0-9])")


class Chunk(BaseModel):
    """One retrievable unit. ``text`` is the body; ``indexed_text`` is what gets indexed."""

    model_config = ConfigDict(frozen=True)

    id: str
    doc_slug: str
    doc_title: str
    section_id: str
    section_path: list[str]
    text: str
    kind: ChunkKind
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def path_text(self) -> str:
        return PATH_SEPARATOR.join(self.section_path)

    @property
    def indexed_text(self) -> str:
        return f"{self.path_text}\n{self.text}" if self.section_path else self.text


def chunk_id(doc_slug: str, section_id: str, text: str, occurrence: int = 0) -> str:
    """Content hash: the same text in the same section keeps its id across re-ingests."""
    key = f"{doc_slug}\x1f{section_id}\x1f{text}"
    if occurrence:
        key += f"\x1f{occurrence}"  # identical text twice in one section
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ChunkerSettings:
    max_tokens: int = 320
    min_tokens: int = 40

    def as_dict(self) -> dict[str, int]:
        return {
            "version": CHUNKER_VERSION,
            "max_tokens": self.max_tokens,
            "min_tokens": self.min_tokens,
        }


@dataclass
class _Unit:
    """Blocks that must stay together (a list item and its nested items)."""

    lines: list[str]
    is_list: bool
    tokens: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _render_item(block: Block) -> str:
    return "  " * block.depth + "- " + block.text


def split_sentences(text: str) -> list[str]:
    parts = [part.strip() for part in _SENTENCE_END.split(text)]
    return [part for part in parts if part]


class Chunker:
    def __init__(self, settings: ChunkerSettings | None = None) -> None:
        self.settings = settings or ChunkerSettings()

    # -- public -------------------------------------------------------------------------

    def chunk_blueprints(self, blueprints: Iterable[Blueprint]) -> list[Chunk]:
        chunks: list[Chunk] = []
        for blueprint in blueprints:
            chunks.extend(self.chunk_blueprint(blueprint))
        return chunks

    def chunk_blueprint(self, blueprint: Blueprint) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in blueprint.walk():
            chunks.extend(self._chunk_section(blueprint, section))
        return chunks

    # -- per section --------------------------------------------------------------------

    def _chunk_section(self, blueprint: Blueprint, section: Section) -> Iterator[Chunk]:
        seen: dict[str, int] = {}
        prefix_tokens = count_tokens(PATH_SEPARATOR.join(section.path) + "\n")
        # Never let a long path starve the body: keep at least a quarter of the bound.
        budget = max(self.settings.max_tokens - prefix_tokens, self.settings.max_tokens // 4)
        run: list[Block] = []
        for block in [*section.blocks, None]:
            if block is not None and block.kind != "table_row":
                run.append(block)
                continue
            if run:
                for body, is_list in self._pack(run, budget):
                    kind: ChunkKind = "list" if is_list else "text"
                    yield self._make(blueprint, section, section.path, body, kind, None, seen)
                run = []
            if block is not None:
                path = section.path + ([block.label] if block.label else [])
                yield self._make(blueprint, section, path, block.text, "table_row", block, seen)

    def _make(
        self,
        blueprint: Blueprint,
        section: Section,
        path: list[str],
        text: str,
        kind: ChunkKind,
        row: Block | None,
        seen: dict[str, int],
    ) -> Chunk:
        occurrence = seen.get(text, 0)
        seen[text] = occurrence + 1
        top = next(
            (
                s
                for s in blueprint.sections
                if section.id == s.id or section.id.startswith(s.id + "/")
            ),
            section,
        )
        metadata: dict[str, Any] = {
            "role": blueprint.slug,
            "family": blueprint.family,
            "level": blueprint.level,
            "track": blueprint.metadata.get("track"),
            "sample": blueprint.sample,
            "section_number": top.number,
            "section_title": top.title,
        }
        if row is not None:
            metadata["cells"] = dict(row.cells or {})
        return Chunk(
            id=chunk_id(blueprint.slug, section.id, text, occurrence),
            doc_slug=blueprint.slug,
            doc_title=blueprint.role,
            section_id=section.id,
            section_path=list(path),
            text=text,
            kind=kind,
            metadata=metadata,
        )

    # -- packing ------------------------------------------------------------------------

    def _units(self, blocks: list[Block], budget: int) -> list[_Unit]:
        units: list[_Unit] = []
        for block in blocks:
            is_item = block.kind == "list_item"
            line = _render_item(block) if is_item else block.text
            if is_item and block.depth > 0 and units and units[-1].is_list:
                merged = _Unit([*units[-1].lines, line], True, 0)
                merged.tokens = count_tokens(merged.text)
                if merged.tokens <= budget:
                    units[-1] = merged
                    continue
            tokens = count_tokens(line)
            if tokens <= budget:
                units.append(_Unit([line], is_item, tokens))
            else:
                units.extend(
                    _Unit([piece], is_item, count_tokens(piece))
                    for piece in self._split(line, budget)
                )
        return units

    def _split(self, text: str, budget: int) -> list[str]:
        """Split an oversized block at sentence boundaries into balanced pieces."""
        sentences: list[str] = []
        for sentence in split_sentences(text):
            if count_tokens(sentence) <= budget:
                sentences.append(sentence)
            else:
                sentences.extend(self._split_words(sentence, budget))
        total = sum(count_tokens(s) for s in sentences)
        target = total / max(1, math.ceil(total / budget))
        pieces: list[list[str]] = [[]]
        for sentence in sentences:
            current = pieces[-1]
            candidate = " ".join([*current, sentence])
            size = count_tokens(" ".join(current)) if current else 0
            if current and (size >= target or count_tokens(candidate) > budget):
                pieces.append([sentence])
            else:
                current.append(sentence)
        return [" ".join(piece) for piece in pieces if piece]

    @staticmethod
    def _split_words(sentence: str, budget: int) -> list[str]:
        pieces: list[str] = []
        current: list[str] = []
        for word in sentence.split():
            if current and count_tokens(" ".join([*current, word])) > budget:
                pieces.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            pieces.append(" ".join(current))
        return pieces

    def _pack(self, blocks: list[Block], budget: int) -> list[tuple[str, bool]]:
        units = self._units(blocks, budget)
        total = sum(u.tokens for u in units) + max(0, len(units) - 1)
        # Aim for equal-sized chunks rather than full ones followed by a runt.
        target = total / max(1, math.ceil(total / budget))
        groups: list[list[_Unit]] = []
        for unit in units:
            if groups and self._fits(groups[-1], unit, budget, target):
                groups[-1].append(unit)
            else:
                groups.append([unit])
        groups = self._merge_small(groups, budget)
        return [
            ("\n".join(u.text for u in group), any(u.is_list for u in group)) for group in groups
        ]

    def _fits(self, group: list[_Unit], unit: _Unit, budget: int, target: float) -> bool:
        size = sum(u.tokens for u in group) + len(group) - 1
        if size >= target and size >= self.settings.min_tokens:
            return False
        return count_tokens("\n".join(u.text for u in [*group, unit])) <= budget

    def _merge_small(self, groups: list[list[_Unit]], budget: int) -> list[list[_Unit]]:
        merged: list[list[_Unit]] = []
        for group in groups:
            if merged:
                small = min(self._size(merged[-1]), self._size(group)) < self.settings.min_tokens
                joined = [*merged[-1], *group]
                if small and count_tokens("\n".join(u.text for u in joined)) <= budget:
                    merged[-1] = joined
                    continue
            merged.append(group)
        return merged

    @staticmethod
    def _size(group: list[_Unit]) -> int:
        return sum(u.tokens for u in group) + len(group) - 1


def chunk_blueprints(
    blueprints: Iterable[Blueprint], *, max_tokens: int = 320, min_tokens: int = 40
) -> list[Chunk]:
    return Chunker(ChunkerSettings(max_tokens=max_tokens, min_tokens=min_tokens)).chunk_blueprints(
        blueprints
    )
