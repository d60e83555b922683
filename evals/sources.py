"""Checking a golden set's ``expected_sources`` against the index the run will query.

A case that expects a section the served index does not have can never pass,
and its failure would read as a retrieval regression. So before any case runs,
the runner is asked for the section ids it serves (``SectionSource``) and the
golden files are re-read with them (``evals.schema.load_golden``), which fails
with the file, the line and the case id of the first bad reference.

Runners that cannot say (test doubles, an HTTP server whose key may not read
``/v1/roles``) return None; the check is then skipped and the reason reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from evals.schema import load_golden
from retrieval.documents import Blueprint


@runtime_checkable
class SectionSource(Protocol):
    async def section_ids(self) -> set[str] | None:
        """Every section id of the index the runner answers from, or None when unknown."""
        ...


def blueprint_section_ids(blueprints: Iterable[Blueprint]) -> set[str]:
    return {section.id for blueprint in blueprints for section in blueprint.walk()}


def with_ancestors(section_ids: Iterable[str]) -> set[str]:
    """Chunk section ids plus every parent: a case may cite a section whose text lives
    only in its sub-sections (e.g. ``role/goals`` above ``role/goals/30-day``)."""
    out: set[str] = set()
    for section_id in section_ids:
        parts = section_id.split("/")
        out.update("/".join(parts[:n]) for n in range(2, len(parts) + 1))
    return out


async def check_expected_sources(paths: Sequence[Path], runner: object) -> str | None:
    """Raise ``GoldenError`` for a case citing a section the runner's index lacks.

    Returns a note when the check could not be made (None when it was made).
    """
    if not paths:
        return "expected_sources not checked: the cases came from no golden file"
    if not isinstance(runner, SectionSource):
        return f"expected_sources not checked: {type(runner).__name__} cannot list its sections"
    known = await runner.section_ids()
    if known is None:
        return "expected_sources not checked: the pipeline did not list its sections"
    load_golden(paths, section_ids=known)
    return None
