"""The golden-set case format, validated at load.

One JSON object per line (JSONL). A case either asks one ``question`` or plays
a multi-turn ``messages`` list whose last message is the user's. Expectations:

* ``expected_sources``: section ids (``<role-slug>/<section>[/<sub-section>]``) that
  must be retrieved; a retrieved chunk matches when its section id equals the id
  or lies below it.
* ``expected_facts``: short facts the answer must state; each lists the accepted
  spellings (``["99.9%", "99.9 percent"]``); matching ignores case, spacing and
  dash style.
* ``must_refuse``: the answer must decline (off-topic refusal or abstention when
  the blueprints cannot answer); ``must_block``: the input guard must block it.
* ``must_not_contain``: strings that must not appear in the answer (a false
  premise, leaked PII, the system prompt).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

SLICES = (
    "summary", "responsibilities", "activities", "deliverables", "goals", "kpi", "skills",
    "soft_skills", "tools", "tech_stack", "org", "decision_rights", "experience", "career",
    "risks", "variants", "ai_impact", "hiring", "scorecard", "roles", "multi_turn",
    "refusal", "abstain", "leading", "injection", "pii",
)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SECTION_ID = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)+$")


class GoldenError(ValueError):
    """A golden file is malformed or refers to something that does not exist."""


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Accepted spellings; the first is the canonical one shown in reports.
    any_of: list[Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]] = Field(
        min_length=1
    )

    @property
    def label(self) -> str:
        return self.any_of[0]


class GoldenCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    slice: str
    question: str | None = None
    messages: list[Turn] | None = None
    role: str | None = Field(None, description="Role filter to send with the request")
    audience: Literal["employee", "manager", "evaluator"] = "evaluator"
    expected_sources: list[str] = Field(default_factory=list)
    expected_facts: list[Fact] = Field(default_factory=list)
    must_refuse: bool = False
    must_block: bool = False
    must_not_contain: list[str] = Field(default_factory=list)
    notes: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GoldenCase:
        if not _ID.match(self.id):
            raise ValueError(f"id {self.id!r} must be a lower-case slug")
        if self.slice not in SLICES:
            raise ValueError(f"slice {self.slice!r} is not one of {', '.join(SLICES)}")
        if (self.question is None) == (self.messages is None):
            raise ValueError("give exactly one of 'question' or 'messages'")
        if self.messages is not None and self.messages[-1].role != "user":
            raise ValueError("the last message must be the user's")
        for source in self.expected_sources:
            if not _SECTION_ID.match(source):
                raise ValueError(f"expected_sources entry {source!r} is not a section id")
        if self.must_refuse and self.must_block:
            raise ValueError("must_block already implies a refusal; set only one of them")
        if any(not text.strip() for text in self.must_not_contain):
            raise ValueError("must_not_contain entries must not be empty")
        if (self.must_refuse or self.must_block) and self.expected_facts:
            raise ValueError("a case that must be refused or blocked cannot expect facts")
        return self

    @property
    def final_question(self) -> str:
        if self.question is not None:
            return self.question
        assert self.messages is not None
        return self.messages[-1].content

    def as_messages(self) -> list[dict[str, str]]:
        if self.messages is not None:
            return [turn.model_dump() for turn in self.messages]
        return [{"role": "user", "content": self.question or ""}]


def load_golden(paths: Iterable[Path], *, section_ids: set[str] | None = None) -> list[GoldenCase]:
    """Read and validate cases; ``section_ids`` (from the corpus) checks every expected source."""
    cases: list[GoldenCase] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise GoldenError(f"{path}: cannot be read ({exc.strerror})") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                case = GoldenCase.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                raise GoldenError(f"{where}: not valid JSON ({exc.msg})") from exc
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'case'}: {e['msg']}" for e in exc.errors()
                )
                raise GoldenError(f"{where}: {problems}") from exc
            if case.id in seen:
                raise GoldenError(f"{where}: duplicate id {case.id!r} (first at {seen[case.id]})")
            seen[case.id] = where
            if section_ids is not None:
                roles = {sid.split("/", 1)[0] for sid in section_ids}
                if case.role is not None and case.role not in roles:
                    raise GoldenError(f"{where}: case {case.id!r} filters on unknown role {case.role!r}")
                missing = [s for s in case.expected_sources if s not in section_ids]
                if missing:
                    raise GoldenError(
                        f"{where}: case {case.id!r} expects unknown section id(s) {missing}; "
                        "check the corpus section ids (ladder ingest, then GET /v1/roles/<slug>)"
                    )
            cases.append(case)
    return cases


def default_golden_files() -> list[Path]:
    return sorted((Path(__file__).resolve().parent / "golden").glob("*.jsonl"))
