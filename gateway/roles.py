"""Structured role expectations from the parsed blueprints (the managers' view).

Tables are recognised by their headers, whatever wording the source used
("KPI" or "Metric name", "Example target" or "Example target / benchmark"), and
their rows returned with canonical field names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from gateway.errors import NotFoundError
from retrieval.documents import Block, Blueprint, Section

# canonical field -> header spellings seen in blueprints (lower-case)
KPI_COLUMNS = {
    "name": ("kpi", "metric name", "metric"),
    "measures": ("what it measures",),
    "why": ("why it matters",),
    "target": ("example target", "example target / benchmark", "target"),
    "frequency": ("frequency",),
}
TOOL_COLUMNS = {
    "category": ("category",),
    "tool": ("tool / platform", "tool"),
    "use": ("primary use",),
    "adoption": ("adoption", "common / optional / context-specific"),
}
SCORECARD_COLUMNS = {
    "dimension": ("dimension",),
    "weight": ("weight",),
    "meets_bar": ("meets the bar", "what “meets bar” looks like", 'what "meets bar" looks like'),
    "excellent": ("excellent", "what “excellent” looks like", 'what "excellent" looks like'),
}

_NORMALIZE = re.compile(r"[^a-z0-9]+")
_SPACE_RUN = re.compile(r"\s+")
# Job titles whose head noun no blueprint family uses. A question about one of them (and
# about no known role) asks for a blueprint ladder does not have: say so, don't guess.
# Engineer/manager/lead/architect are left out: the catalog uses them, and people use
# them generically ("a staff engineer", "the hiring manager").
_FOREIGN_TITLE = re.compile(
    r"\b(?:chief\s+\w+(?:\s+\w+)?\s+officer|head\s+of\s+[a-z][\w/&-]*(?:\s+platform)?|"
    r"(?:[a-z][\w/&-]*\s+){1,2}(?:researcher|designer|officer|scientist|analyst|director|recruiter|"
    r"developer|specialist|consultant|administrator|accountant|nurse|teacher|lawyer)s?)\b",
    re.IGNORECASE,
)
_TITLE_FILLER = frozenset(
    ["a", "an", "the", "of", "for", "to", "as", "is", "are", "be", "do", "does", "what", "which", "who", "whom", "how", "my", "our", "your", "their", "this", "that", "kpis", "kpi", "goals", "skills", "role", "roles", "and", "or", "with", "about", "better", "good", "great", "new", "strong", "successful", "effective", "real", "typical"]
)
_LEVEL_WORDS = {"senior": "senior", "staff": "staff", "principal": "principal", "manager": "manager"}


def _levels_in(padded: str) -> list[str]:
    """The levels whose words a normalized, space-padded text holds (" ... staff ... ")."""
    return [lvl for word, lvl in _LEVEL_WORDS.items() if f" {word} " in padded]


def _norm(text: str) -> str:
    return _NORMALIZE.sub(" ", text.lower().replace("&", " and ")).strip()


def _singular(normalized: str) -> str:
    """'staff applied ai engineers' -> 'staff applied ai engineer' (names match in plural too)."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
                    for w in normalized.split())


def _aliases(role: str) -> set[str]:
    """How people write a role name: 'AI Platform Lead / Architect' is also 'AI Platform
    Lead' and 'AI Platform Architect'; 'Engineering Manager, Applied AI' is also
    'Applied AI Engineering Manager'."""
    names = {_norm(role)}
    if "/" in role:
        head, _, tail = role.partition("/")
        head_words = head.split()
        names.add(_norm(head))
        if len(tail.split()) == 1 and head_words:
            names.add(_norm(" ".join(head_words[:-1] + [tail])))
    if "," in role:
        first, _, second = role.partition(",")
        names.add(_norm(f"{second} {first}"))
    return {n for n in names if len(n.split()) >= 2}


# Level words of the IC titles, and the words that make a short name ("data engineer")
# another role's title ("a principal data engineer").
_LEVELS = tuple(word for word in _LEVEL_WORDS if word != "manager")
_RANKS = (*_LEVELS, "junior", "lead", "associate", "intern")


def _short_name(role: str) -> str:
    """A role as people often say it: without its level or qualifier ('Staff Data Engineer'
    -> 'data engineer', 'Engineering Manager, Applied AI' -> 'engineering manager')."""
    return _norm(_unlevelled(role))


def _unlevelled(role: str) -> str:
    """'Staff Backend Engineer' -> 'Backend Engineer', in the role's own spelling."""
    head = role.partition(",")[0].partition("/")[0]
    return " ".join(w for w in head.split() if w.lower() not in _LEVELS)


def _words_before(padded: str, name: str) -> Iterator[str]:
    """The word before each occurrence of ``name`` in a normalized, space-padded text
    ("" at its start): "principal" for " ... a principal data engineer ..."."""
    start = padded.find(f" {name} ")
    while start >= 0:
        before = padded[:start].split()
        yield before[-1] if before else ""
        start = padded.find(f" {name} ", start + 1)


def _canonical(row: Block, columns: dict[str, tuple[str, ...]]) -> dict[str, str] | None:
    cells = {k.strip().lower(): v for k, v in (row.cells or {}).items()}
    out: dict[str, str] = {}
    for field, spellings in columns.items():
        value = next((cells[s] for s in spellings if s in cells), None)
        if value is None:
            return None
        out[field] = value
    return out


def _table_rows(section: Section | None, columns: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    if section is None:
        return []
    rows: list[dict[str, str]] = []
    for sub in section.walk():
        for table in sub.tables():
            for row in table:
                canonical = _canonical(row, columns)
                if canonical is not None:
                    rows.append({**canonical, "section_id": sub.id})
    return rows


def _items(section: Section) -> list[str]:
    return [b.text for b in section.blocks if b.kind in ("list_item", "paragraph")]


class RoleCatalog:
    """Read-only view over the blueprints of one index version."""

    def __init__(self, blueprints: Iterable[Blueprint]) -> None:
        self._by_slug = {b.slug: b for b in blueprints}
        names = {
            (_singular(alias), b.slug) for b in self._by_slug.values() for alias in _aliases(b.role)
        }
        # Longest first, so "staff applied ai engineer" wins over a shorter alias inside it.
        self._names = sorted(names, key=lambda x: (-len(x[0]), x[0]))
        # Short names that only one role has ("data engineer", "engineering manager"; not
        # "applied ai engineer", which three levels share), matched after the full names.
        owners: dict[str, set[str]] = {}
        for b in self._by_slug.values():
            owners.setdefault(_singular(_short_name(b.role)), set()).add(b.slug)
        full = {alias for alias, _ in names}
        self._short_names = sorted(
            ((short, next(iter(slugs))) for short, slugs in owners.items()
             if len(slugs) == 1 and len(short.split()) >= 2 and short not in full),
            key=lambda x: (-len(x[0]), x[0]),
        )
        # Compiled once: query planning strips mentions on every request, and building
        # one pattern per alias per call cost more than the substitutions themselves. Each
        # is tried only when its first word is in the text (a substring test, ~50x cheaper
        # than a failed search).
        self._mention_patterns = [
            (alias.split()[0], re.compile(
                r"\b" + r"\W+".join(re.escape(w) + "s?" for w in alias.split()) + r"(?:'s|’s)?\b",
                flags=re.IGNORECASE,
            ))
            for alias, _ in self._names
        ] + [
            (short.split()[0], re.compile(
                "".join(rf"(?<!\b{rank} )" for rank in _RANKS)
                + r"\b" + r"\W+".join(re.escape(w) + "s?" for w in short.split()) + r"(?:'s|’s)?\b",
                flags=re.IGNORECASE,
            ))
            for short, _ in self._short_names
        ]

    def __len__(self) -> int:
        return len(self._by_slug)

    def slugs(self) -> list[str]:
        return sorted(self._by_slug)

    def get(self, slug: str) -> Blueprint:
        try:
            return self._by_slug[slug]
        except KeyError:
            guess = self._suggest(slug)
            raise NotFoundError(
                f"unknown role {slug!r}; {f'did you mean {guess!r}? ' if guess else ''}"
                f"known roles: {', '.join(self.slugs())}",
                code="role_not_found",
                param="role",
            ) from None

    def _suggest(self, slug: str) -> str | None:
        """The known slug a mistyped one most likely means: the role its words name
        ('engineering-manager', 'data-engineer'), else the closest spelling."""
        named = self.mentioned(slug.replace("-", " ").replace("_", " "))
        if len(named) == 1:
            return named[0]
        longer = [known for known in self.slugs() if known.startswith(f"{slug.lower()}-")]  # "mlops"
        if len(longer) == 1:
            return longer[0]
        close = difflib.get_close_matches(slug.lower(), self.slugs(), n=1, cutoff=0.75)
        return close[0] if close else None

    def summaries(self) -> list[dict[str, Any]]:
        return [self.summary(b) for b in sorted(self._by_slug.values(), key=lambda b: b.slug)]

    @staticmethod
    def summary(b: Blueprint) -> dict[str, Any]:
        return {
            "slug": b.slug,
            "role": b.role,
            "family": b.family,
            "level": b.level,
            "track": b.metadata.get("track"),
            "sample": b.sample,
            "version": b.version,
            "source": b.source,
            "summary": b.summary,
        }

    def detail(self, slug: str) -> dict[str, Any]:
        b = self.get(slug)
        goals = b.find_section("Goals")
        career = b.find_section("Career Path")
        experience = b.find_section("Experience")
        related = b.metadata.get("related") or {}
        return {
            **self.summary(b),
            "sections": [
                {"id": s.id, "number": s.number, "title": s.title,
                 "subsections": [{"id": c.id, "title": c.title} for c in s.subsections]}
                for s in b.sections
            ],
            "goals": {c.title: _items(c) for c in goals.subsections} if goals else {},
            "career_path": {
                "feeders": related.get("feeders", []),
                "next": related.get("next", []),
                "adjacent": related.get("adjacent", []),
                "details": {c.title: _items(c) for c in career.subsections} if career else {},
            },
            "experience": {c.title: _items(c) for c in experience.subsections} if experience else {},
            "kpi_count": len(self.kpis(slug)),
        }

    def kpis(self, slug: str) -> list[dict[str, str]]:
        return _table_rows(self.get(slug).find_section("KPI"), KPI_COLUMNS)

    def tools(self, slug: str) -> list[dict[str, str]]:
        return _table_rows(self.get(slug).find_section("Tools"), TOOL_COLUMNS)

    def scorecard(self, slug: str) -> list[dict[str, str]]:
        return _table_rows(self.get(slug).find_section("Hiring"), SCORECARD_COLUMNS)

    # -- mentions of roles in free text (query planning) --------------------------------------
    def strip_mentions(self, text: str) -> str:
        """``text`` without the role names it contains (used once a role filter applies,
        where the name no longer tells passages apart and only adds noise)."""
        lowered = text.lower()
        for first, pattern in self._mention_patterns:
            if first in lowered:
                text = pattern.sub(" ", text)
        return _SPACE_RUN.sub(" ", text).strip()

    def unknown_title(self, text: str) -> str | None:
        """A job title in ``text`` that has no blueprint here ("UX Researcher", "Chief
        Marketing Officer", "Head of AI"), or None. Only meaningful when ``mentioned(text)``
        found no known role."""
        for match in _FOREIGN_TITLE.finditer(text):
            words = match.group(0).split()
            while words and words[0].lower() in _TITLE_FILLER:
                words.pop(0)
            if sum(w.lower() not in _TITLE_FILLER for w in words) >= 2:
                return " ".join(words)
        # "a senior backend engineer": a known role's short name at another level.
        norm = f" {_singular(_norm(text))} "
        for short, slug in self._short_names:
            rank = next((w for w in _words_before(norm, short) if w in _RANKS), None)
            if rank:
                return f"{rank.capitalize()} {_unlevelled(self._by_slug[slug].role)}"
        return None

    def nearest(self, title: str) -> str | None:
        """The role an unknown title is another level of ("Senior Backend Engineer" ->
        "Staff Backend Engineer"), or None."""
        named = self.mentioned(" ".join(title.split()[1:]))
        return self._by_slug[named[0]].role if len(named) == 1 else None

    def role_name(self, slug: str) -> str:
        return self.get(slug).role

    def mentioned(self, text: str, *, context: str | None = None) -> list[str]:
        """Role slugs named in ``text``: full role names first, then bare level words
        ("and for Principal?") resolved within the family of the ``context`` role."""
        norm = f" {_singular(_norm(text))} "
        found: list[str] = []
        for name, slug in self._names:
            if f" {name} " in norm and slug not in found:
                found.append(slug)
                norm = norm.replace(f" {name} ", " ")
        for name, slug in self._short_names:
            # Not as the tail of another level's title ("principal data engineer").
            if slug not in found and any(w not in _RANKS for w in _words_before(norm, name)):
                found.append(slug)
        if found:
            return found
        # Reordered names ("Staff-level ... Applied AI Engineer"): every word of a
        # full role name present counts, when exactly one role matches that way.
        words = set(norm.split())
        loose = {slug for name, slug in self._names if len(name.split()) >= 3 and set(name.split()) <= words}
        if len(loose) == 1:
            return list(loose)
        levels = _levels_in(norm)
        if not levels:
            return []
        candidates = [b for b in self._by_slug.values() if b.level in levels]
        if context and context in self._by_slug:
            family = self._by_slug[context].family
            same_family = [b for b in candidates if b.family == family]
            candidates = same_family or candidates
        return [b.slug for b in candidates] if len(candidates) == 1 else []

    def same_family_levels(self, text: str, slug: str) -> list[str]:
        """Roles of ``slug``'s family at the bare level words ``text`` names besides it:
        "the difference between a Staff and a Principal Applied AI Engineer" names the
        principal in full and the staff role by its level alone. Unlike ``mentioned``, never
        a role of another family ("a staff backend engineer vs a principal" has no
        principal backend blueprint: that comparison is answered from the staff role's)."""
        if slug not in self._by_slug:
            return []
        rest = f" {_singular(_norm(self.strip_mentions(text)))} "
        levels = set(_levels_in(rest))
        family = self._by_slug[slug].family
        return [
            b.slug for b in self._by_slug.values()
            if b.family == family and b.level in levels and b.slug != slug
        ]

    def missing_level_title(self, text: str, *, context: str | None) -> str | None:
        """"and for Principal?" after Senior ML Engineer, where no principal role shares its
        family: the title the user means ("Principal ML Engineer"), which has no blueprint.
        None when ``text`` names a known role or no bare level word, or for the management
        track (its titles do not carry the level words)."""
        if not context or context not in self._by_slug or self.mentioned(text, context=context):
            return None
        norm = f" {_singular(_norm(text))} "
        level = next(iter(_levels_in(norm)), None)
        role = self._by_slug[context]
        if level is None or level == "manager" or role.level == "manager":
            return None
        words = [w for w in role.role.split() if w.lower() not in _LEVEL_WORDS]
        return " ".join([level.capitalize(), *words])
