"""Person names, where a heuristic can find them without an NER model.

Three cues, from strongest to weakest:
1. a phrase that introduces a name ("my name is", "I'm", "name:", "called"),
2. a title (Mr, Ms, Dr, Prof, Herr, Frau ...),
3. a given name from the bundled list followed by a capitalized surname
   (or standing alone, if the name is not also an everyday word).

Role titles are the main false-positive risk in ladder ("Staff Applied AI
Engineer", "Principal Data Scientist"), so a capitalized word from the role
and business vocabulary below never counts as part of a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from guardrails.errors import ModelFileError
from guardrails.pii.recognizers import Span

NAMES_FILE = Path(__file__).resolve().parent.parent / "data" / "first_names.yaml"

# Capitalized words that are never a surname here: roles, levels, teams,
# companies' suffixes, calendar words, and sentence glue.
_NOT_A_NAME = frozenset(
    """
    engineer engineering engineers manager managers management lead leads leader leadership
    staff senior junior principal applied ai ml mlops llm genai data platform architect
    architecture director head vp cto ceo cfo coo cio president officer intern associate
    consultant specialist coordinator administrator analyst scientist developer designer
    researcher product program project team teams group owner partner member members inc ltd
    llc gmbh corp company university college school department office hr people operations
    sre devops backend frontend fullstack security infrastructure cloud mobile web software
    hardware research science business sales marketing finance legal support customer
    success quality qa test kpi kpis okr okrs api apis the and or of in on at for with to
    from by as is are was were be has had have will can should would could may might must
    shall do does did not no yes if then than but so this that these those it its my your
    our their his her he she they we you i me us them who what when where why how which
    monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december street road avenue lane drive mr
    mrs ms dr prof sir madam dear hi hello thanks regards best level role roles career
    careers goal goals skill skills day days week weeks month months year years q1 q2 q3 q4
    python java go rust sql aws gcp azure kubernetes docker
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_ADDRESS_WORDS = frozenset(
    """
    street st road rd avenue ave lane ln drive dr close place square way boulevard blvd
    court ct terrace bypass green flat flats lodge cliffs cliff extensions extension union
    park gardens hill heights view crescent grove mews row walk bridge port fort harbour
    harbor island islands station rue strasse straße allee plaza circle loop trail valley
    ridge point investments bank
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_WORD = r"[^\W\d_][\w'’\-]*"
_CAP_WORD = re.compile(rf"(?:{_WORD})")
_INITIAL = re.compile(r"[A-Z]\.?")
_TOKEN = re.compile(rf"{_WORD}|[A-Z]\.")
_NEXT_WORD = re.compile(rf"[ \t]+({_WORD}\.?|[A-Z]\.)")
_POSSESSIVE = re.compile(r"['’]s$")

_INTRO = re.compile(
    r"\b(?:my name is|my name's|i am|i'm|this is|name\s*:|called|named|signed|"
    r"ich heiße|ich bin|mein name ist)\s+",
    re.IGNORECASE,
)
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau)\.?\s+")


@dataclass(frozen=True)
class NameList:
    plain: frozenset[str]
    ambiguous: frozenset[str]

    def __contains__(self, word: str) -> bool:
        key = word.casefold()
        return key in self.plain or key in self.ambiguous

    def is_ambiguous(self, word: str) -> bool:
        return word.casefold() in self.ambiguous


@cache
def load_names(path: Path = NAMES_FILE) -> NameList:
    try:
        names = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelFileError(path, f"cannot read the first-name list: {exc}") from exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelFileError(path, "the first-name list must be a YAML list of strings")
    plain = {n.casefold() for n in names if not n.endswith("*")}
    ambiguous = {n.rstrip("*").casefold() for n in names if n.endswith("*")}
    return NameList(frozenset(plain), frozenset(ambiguous))


def _is_cap(word: str) -> bool:
    return word[:1].isupper() and word.casefold() not in _NOT_A_NAME and not word.isupper()


def _extend_surname(text: str, end: int, allow_lower: bool) -> int:
    """Follow a given name with initials and up to two surname words; return the new end."""
    position = end
    words = 0
    while words < 3:
        match = _NEXT_WORD.match(text, position)
        if not match:
            break
        word = match.group(1)
        if _INITIAL.fullmatch(word):
            position = match.end()
            continue
        bare = word.rstrip(".")
        if not (
            _is_cap(bare) or (allow_lower and bare.casefold() not in _NOT_A_NAME and bare.isalpha())
        ):
            break
        position = match.start(1) + len(bare)
        words += 1
        if word.endswith("."):
            break  # "Mr Smith. Next": a sentence end, not an initial
    return position


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1] in "'’.,":
        end -= 1
    if text[start:end].endswith(("'s", "’s")):
        end -= 2
    return start, end


def find_person_names(text: str, names: NameList | None = None) -> Iterator[Span]:
    names = names or load_names()
    lower_only = not any(c.isupper() for c in text)
    seen: list[tuple[int, int]] = []

    def emit(start: int, end: int) -> Iterator[Span]:
        start, end = _trim(text, start, end)
        if end - start < 2 or any(s < end and start < e for s, e in seen):
            return
        seen.append((start, end))
        yield Span("PERSON", start, end, text[start:end])

    for match in _INTRO.finditer(text):
        first = _CAP_WORD.match(text, match.end())
        if not first:
            continue
        word = first.group(0)
        introduced_by_name = (
            match.group(0).lower().startswith(("my name", "name", "mein name", "ich heiß"))
        )
        # "I'm Staff Engineer" / "I am tired": only a listed name or a capitalized pair counts.
        strong = introduced_by_name or word in names
        if not (_is_cap(word) or (introduced_by_name and word.casefold() not in _NOT_A_NAME)):
            continue
        end = _extend_surname(text, first.end(), allow_lower=introduced_by_name and word.islower())
        if strong or end > first.end():
            yield from emit(first.start(), end)

    for match in _TITLE.finditer(text):
        first = _CAP_WORD.match(text, match.end())
        if first and _is_cap(first.group(0)):
            yield from emit(match.start(), _extend_surname(text, first.end(), allow_lower=False))

    for match in _TOKEN.finditer(text):
        word = _POSSESSIVE.sub("", match.group(0))
        if word not in names or not (_is_cap(word) or (lower_only and word.islower())):
            continue
        word_end = match.start() + len(word)
        following = _NEXT_WORD.match(text, word_end)
        if following and following.group(1).rstrip(".").casefold() in _ADDRESS_WORDS:
            continue  # "Gordon Terrace", "Philip Bypass": a place named after someone
        end = (
            _extend_surname(text, word_end, allow_lower=False)
            if word_end == match.end()
            else word_end
        )
        if end == word_end and names.is_ambiguous(word):
            continue  # "Mark the date", "Will it work": needs a surname
        yield from emit(match.start(), end)
