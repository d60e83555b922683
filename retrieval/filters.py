"""Search filters and the boolean chunk masks they turn into.

Semantics: values within one field are alternatives (OR); fields combine with
AND. ``role``, ``family`` and ``level`` match chunk metadata exactly
(case-insensitive); ``section`` is a section-id prefix, given either in full
("staff-applied-ai-engineer/kpis") or relative to the role ("kpis-and-productivity").

An unknown value is a valid question with no answer: it yields an empty mask.
A malformed value (not a slug, empty, too long, unknown field) is a caller
error and raises ``QueryError``.

The mask is computed once per request and handed to BOTH retrievers before
fusion, so a filtered-out chunk cannot come back through either of them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from retrieval.chunking import Chunk
from retrieval.errors import QueryError

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SECTION = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")
_MAX_VALUES = 50
_MAX_LENGTH = 200


def _values(value: Any, pattern: re.Pattern[str], field: str) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(f"{field} must be a string or a non-empty list of strings")
    if len(items) > _MAX_VALUES:
        raise ValueError(f"{field} accepts at most {_MAX_VALUES} values")
    cleaned: list[str] = []
    for item in items:
        if not isinstance(item, str):
            # ValueError, not TypeError: pydantic only turns ValueError into a validation error.
            raise ValueError(f"{field} values must be strings, got {type(item).__name__}")  # noqa: TRY004
        text = item.strip().lower()
        if not text or len(text) > _MAX_LENGTH or not pattern.match(text):
            raise ValueError(
                f"{field} value {item!r} is malformed (expected a slug such as "
                f"'staff-applied-ai-engineer', at most {_MAX_LENGTH} characters)"
            )
        cleaned.append(text)
    return cleaned


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: list[str] | None = None
    family: list[str] | None = None
    level: list[str] | None = None
    section: list[str] | None = None

    @field_validator("role", "family", "level", mode="before")
    @classmethod
    def _slug_values(cls, value: Any, info: Any) -> list[str] | None:
        return _values(value, _SLUG, info.field_name)

    @field_validator("section", mode="before")
    @classmethod
    def _section_values(cls, value: Any) -> list[str] | None:
        return _values(value, _SECTION, "section")

    @property
    def empty(self) -> bool:
        return not (self.role or self.family or self.level or self.section)

    @classmethod
    def parse(cls, data: SearchFilters | Mapping[str, Any] | None) -> SearchFilters | None:
        """Validate caller input, translating pydantic's error into ``QueryError``."""
        if data is None or isinstance(data, SearchFilters):
            return data
        if not isinstance(data, Mapping):
            raise QueryError(f"filters must be an object, got {type(data).__name__}")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'filters'}: {err['msg']}"
                for err in exc.errors()
            )
            raise QueryError(f"invalid filters: {problems}") from exc


class FilterIndex:
    """Chunk ids grouped by metadata value, so a mask costs a few array writes."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.size = len(chunks)
        groups: dict[str, dict[str, list[int]]] = {
            f: defaultdict(list) for f in ("role", "family", "level")
        }
        sections: dict[str, list[int]] = defaultdict(list)
        for i, chunk in enumerate(chunks):
            groups["role"][chunk.doc_slug.lower()].append(i)
            for field in ("family", "level"):
                value = chunk.metadata.get(field)
                if value:
                    groups[field][str(value).lower()].append(i)
            sections[chunk.section_id.lower()].append(i)
        self._fields = {
            field: {value: np.asarray(ids, dtype=np.int64) for value, ids in values.items()}
            for field, values in groups.items()
        }
        self._sections = {sid: np.asarray(ids, dtype=np.int64) for sid, ids in sections.items()}
        roles = {c.section_id.lower(): c.doc_slug.lower() for c in chunks}
        # Section id without its "<role>/" head, for role-relative prefixes.
        self._relative = {
            sid: sid[len(role) + 1 :] if sid.startswith(role + "/") else sid
            for sid, role in roles.items()
        }

    def mask(self, filters: SearchFilters | None) -> np.ndarray | None:
        """Boolean mask of allowed chunks, or None when nothing is filtered."""
        if filters is None or filters.empty:
            return None
        mask = np.ones(self.size, dtype=bool)
        for field in ("role", "family", "level"):
            values = getattr(filters, field)
            if values:
                mask &= self._any(self._fields[field].get(v) for v in values)
        if filters.section:
            prefixes = tuple(filters.section)
            mask &= self._any(
                ids
                for sid, ids in self._sections.items()
                if sid.startswith(prefixes) or self._relative[sid].startswith(prefixes)
            )
        return mask

    def _any(self, id_arrays: Any) -> np.ndarray:
        allowed = np.zeros(self.size, dtype=bool)
        for ids in id_arrays:
            if ids is not None:
                allowed[ids] = True
        return allowed
