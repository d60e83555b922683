"""The embedded default provider: grounded, cited answers without an LLM.

It selects the sentences, list items and table rows of the retrieved passages
that best cover the question, renders each as one sentence carrying its
citation marker, and abstains when the evidence is weak. Deterministic: the
same question and passages always give the same answer.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from gateway.providers.base import (
    Passage,
    ProviderRequest,
    ProviderResponse,
    StreamDelta,
)
from retrieval.analyzer import Analyzer

ABSTAIN_TEXT = (
    "I can't find that in the role blueprints, so I won't guess. I can answer questions about "
    "role responsibilities, KPIs and their targets, skills, 30/60/90-day goals, hiring criteria "
    "and career paths."
)

# Words that say which kind of answer is wanted, not what it is about.
# Words that frame a question rather than name its subject ("what should X have
# achieved", "how big", "be able to"). Compared after stemming, like the question.
_QUESTION_NOISE_WORDS = (
    "what which who how much many does do role engineer expect expected list tell give "
    "should would could need needs know able achieve achieved big fast onto typically "
    "usually often want get make take happen mean consider kind sort type way exactly "
    "really actually good best please look done accomplish accomplished become becoming "
    "compare compared comparison versus vs difference differences differ differs"
)
_LIST_INTENT = re.compile(
    r"\b(list|lists|what are|which are|name the|all the|goals|responsibilities|activities|"
    r"deliverables|skills|tools|signals|flags|anti-patterns|challenges|bottlenecks|"
    r"stakeholders|kpis|metrics|expectations|milestones|objectives|roles|paths|criteria)\b",
    re.IGNORECASE,
)
# At the start of the question, or after the section words the planner put in front of it
# ("incident escalation emergency work: What kinds of ...").
_WH_START = re.compile(r"(?:^|:\s)\s*(what|which|who)\b", re.IGNORECASE)
_PLURAL = re.compile(r"\b[a-z]{4,}s\b")
_NOT_PLURAL = frozenset(
    ["does", "access", "process", "business", "success", "status", "analysis", "focus", "across", "class", "less", "always", "various", "previous", "serious", "means", "basis", "bonus", "canvas"]
)
_SUPERLATIVE = re.compile(
    r"\b(highest|largest|most|biggest|top|leads|lowest|smallest|least)\b", re.IGNORECASE
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TERMS_CACHE_SIZE = 8192  # analyzed sentences and paths; a few MB at most
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"“])")
_ITEM = re.compile(r"^(\s*)- (.*)$")


@dataclass
class _Unit:
    passage: Passage
    text: str
    order: int
    terms: frozenset[str]
    path_terms: frozenset[str]
    body: float = 0.0  # share of the question (ranking weights) in the unit's own words
    score: float = 0.0  # ranks units against each other
    evidence: float = 0.0  # how fully the unit (with its section path) answers the question
    item: bool = False  # a list item: its section's heading says what it is ("60-day goals")


_HAVE_COMPOUND = re.compile(r"\b(good|nice|must)[- ](?:to[- ])?have\b", re.IGNORECASE)  # "good-to-have"
_COMPARED = re.compile(r"\b(compare[sd]?|comparison|differences?|differ|differs|vs\.?|versus)\b", re.IGNORECASE)
_KPI_ASKED = re.compile(r"\b(kpis?|metrics?|measures?|targets?)\b", re.IGNORECASE)
# "Which role owns the model registry?", "Who is responsible for GPU capacity?": the answer
# is a role, so each line says whose blueprint it comes from ("The role owns ..." alone
# does not say which role). Not "Which roles come after X?": there the items are roles.
_OWNING = (r"(is |are )?(responsible|accountable|in charge|owns?|handles?|leads?|runs?|decides?|approves?|"
           r"sets?|maintains?|manages?|builds?|designs?|defines?|tracks?|uses?)\b")
_ASKS_FOR_A_ROLE = re.compile(rf"\b(which|what) (roles?|jobs?|positions?) {_OWNING}|\bwho {_OWNING}", re.IGNORECASE)
_FREQUENCY = re.compile(r"\b(daily|weekly|monthly|quarterly|yearly|annually|per incident|per release)\b")


def _cell(unit: _Unit, column: str) -> str:
    """A table row's cell by case-insensitive column name ("" when absent)."""
    return next((v for k, v in (unit.passage.cells or {}).items() if k.lower() == column), "")


def _lead_lower(text: str) -> str:
    """A cell's text continuing our sentence: "Build, test" -> "build, test", but an
    acronym keeps its case ("AI talent", "SQL models", not "aI talent")."""
    first = text.split(" ", 1)[0]
    if not text or any(c.isupper() for c in first[1:]):
        return text
    return text[0].lower() + text[1:]


def _row_sentence(cells: dict[str, str]) -> str:
    lower = {k.lower(): v for k, v in cells.items() if v}
    name = next(iter(cells.values()), "")
    target = lower.get("example target") or lower.get("example target / benchmark")
    if target is not None:
        measures = lower.get("what it measures")
        freq = lower.get("frequency")
        why = lower.get("why it matters")
        text = f"{name}"
        if measures:
            text += f" ({measures})"
        text += f": the example target is {target}"
        if freq:
            text += f", tracked {freq}"
        if why:
            text += f"; why it matters: {_lead_lower(why)}"
        return text
    tool = lower.get("tool / platform")
    if tool is not None:
        use = lower.get("primary use", "")
        adoption = lower.get("adoption") or lower.get("common / optional / context-specific", "")
        category = lower.get("category", "")
        return f"{tool} ({category}) is used for {_lead_lower(use) or 'n/a'}; adoption: {adoption}"
    weight = lower.get("weight")
    if weight is not None:
        meets = lower.get("meets the bar") or next((v for k, v in lower.items() if "meets" in k), "")
        excellent = lower.get("excellent") or next((v for k, v in lower.items() if "excellent" in k), "")
        return (
            f"{name} carries a weight of {weight} in the interview scorecard; meeting the bar "
            f"looks like: {meets}; excellent looks like: {excellent}"
        )
    values = [v for v in cells.values() if v]
    if len(cells) == 2 and len(values) == 2:
        return f"{values[0]}: {values[1]}"
    rest = "; ".join(f"{k}: {v}" for k, v in list(cells.items())[1:] if v)
    return f"{name}: {rest}" if rest else name


_CLAUSE = re.compile(r"[.?!;:]\s+|,\s+")
_MIN_CLAUSE_WORDS = 4


def _clauses(question: str) -> list[str]:
    parts = [p.strip() for p in _CLAUSE.split(question) if p.strip()]
    return [p for p in parts if len(p.split()) >= _MIN_CLAUSE_WORDS] if len(parts) > 1 else []


def _wants_list(question: str) -> bool:
    """'What are the 30-day goals...', 'Which tools...', 'What production systems and code
    does X deliver?': the answer is the items of one section, not a single fact."""
    if _LIST_INTENT.search(question):
        return True
    if not _WH_START.search(question):
        return False
    return any(word not in _NOT_PLURAL for word in _PLURAL.findall(question.lower()))


def _extends(unit_term: str, term: str) -> bool:
    """``unit_term`` is ``term`` derived ("feed" in "feeder", "deploy" in "deployment") or
    either is the other's plural: Porter2 keeps the "s" of short words after a vowel, so
    "KPIs" stems to "kpis" while "KPI" stays "kpi"."""
    if len(term) >= 4 and unit_term.startswith(term):
        return True
    return unit_term == term + "s" or term == unit_term + "s"


def _with_prefixes(unit_terms: frozenset[str], question_terms: list[str]) -> frozenset[str]:
    """Count a question term as present when a unit term extends it or is its plural
    (``_extends``): the stemmer leaves such words apart. Runs for every unit of every
    request, so the plural cases are set lookups rather than a scan."""
    extra = {
        t for t in question_terms
        if t not in unit_terms and (
            t + "s" in unit_terms
            or (t.endswith("s") and t[:-1] in unit_terms)
            or (len(t) >= 4 and any(u.startswith(t) for u in unit_terms))
        )
    }
    return unit_terms | extra if extra else unit_terms


def _distinct(units: Iterable[_Unit]) -> list[_Unit]:
    """Units in document order, each text once: the same chunk retrieved twice (or sent
    twice by a caller) must not repeat an item; the first passage keeps the citation."""
    seen: set[str] = set()
    kept: list[_Unit] = []
    for unit in sorted(units, key=lambda u: u.order):
        key = " ".join(unit.text.casefold().split())
        if key not in seen:
            seen.add(key)
            kept.append(unit)
    return kept


def _table(unit: _Unit) -> str:
    """The section a unit sits in, without the document ("KPIs and Productivity Metrics"
    for a KPI row of any blueprint)."""
    path = unit.passage.section_path
    if unit.passage.kind == "table_row":
        path = path.rsplit(" › ", 1)[0]
    return path.split(" › ", 1)[-1]


def _finish(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence if sentence.endswith((".", "!", "?", ":")) else sentence + "."


_LABELLED = re.compile(r"^[^:.]{1,80}:\s")  # "Security of AI infrastructure: Works with ..."


def _whose(unit: _Unit) -> str:
    """A cited line that names the role whose blueprint says it."""
    return f"{unit.passage.title} — {_finish(unit.text)} [{unit.passage.marker}]"


class ExtractiveProvider:
    """Composes answers from evidence. Constructor is cheap; nothing to load."""

    def __init__(
        self,
        name: str = "extractive",
        *,
        max_items: int = 8,
        max_facts: int = 3,
        # Tuned on evals/dev/abstention_dev.jsonl with bench/tune_abstention.py (never on
        # the golden set): expected accuracy 1.000 on the 52 dev questions, assuming 85% of
        # questions are answerable, on the plateau 0.459-0.492; the tuner takes its low
        # edge, since with mostly answerable traffic answering more is the better error.
        min_evidence: float = 0.459,
    ) -> None:
        self.name = name
        self._max_items = max_items
        self._max_facts = max_facts
        self._min_evidence = min_evidence
        self._analyzer = Analyzer()
        # The analyzer drops stop words and stems; so the noise list is compared stemmed.
        self._noise = frozenset(self._analyzer.tokenize(_QUESTION_NOISE_WORDS))
        # Passages come from a fixed index, so the same sentences and section paths are
        # analyzed request after request: stemming them was ~5% of the server's GIL time
        # under load (py-spy). Bounded; thread-safe; frozensets, so callers cannot alter them.
        self._terms_of = functools.lru_cache(maxsize=_TERMS_CACHE_SIZE)(self._analyzed)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ready(self) -> bool:
        return True

    # -- composition -----------------------------------------------------------------------
    def _analyzed(self, text: str) -> frozenset[str]:
        return frozenset(self._analyzer.tokenize(text))

    def _units(self, passages: list[Passage]) -> list[_Unit]:
        units: list[_Unit] = []
        for passage in passages:
            path_parts = passage.section_path.split(" › ")
            path_terms = self._terms_of(" ".join(path_parts[1:]))
            if passage.kind == "table_row" and passage.cells:
                pieces = [(_row_sentence(passage.cells), False)]
            else:
                pieces = []
                for line in passage.text.split("\n"):
                    item = _ITEM.match(line)
                    if item:
                        pieces.append((item.group(2), True))
                    elif line.strip():
                        pieces.extend((s, False) for s in _SENTENCE.split(line.strip()) if s)
            for piece, is_item in pieces:
                units.append(
                    _Unit(passage, piece, len(units), self._terms_of(piece), path_terms, item=is_item)
                )
        return units

    def _score(self, question: str, units: list[_Unit], weights: Mapping[str, float] | None = None) -> list[str]:
        # "good" frames a question ("what does good look like?") but names a section in
        # "good-to-have skills": there it stays a term.
        compounds = [m.group(1) for m in _HAVE_COMPOUND.finditer(question)]
        kept = frozenset(self._analyzer.tokenize(" ".join(compounds))) if compounds else frozenset()
        terms = [
            t for t in dict.fromkeys(self._analyzer.tokenize(question))
            if (t not in self._noise or t in kept) and (len(t) > 1 or t.isdigit())  # "I'm" leaves "m"
        ]
        if not terms or not units:
            return terms
        n = len(units)
        for unit in units:
            unit.terms = _with_prefixes(unit.terms, terms)
            unit.path_terms = _with_prefixes(unit.path_terms, terms)
        # Ranking weights are local: among the retrieved units, rarer terms tell them apart.
        local = {
            t: math.log(1 + n / (1 + sum(t in u.terms or t in u.path_terms for u in units)))
            for t in terms
        }
        # Evidence weights are corpus-wide: a term the blueprints never use (the question is
        # about something else) counts fully against the answer; a common one barely.
        corpus = {t: (weights or {}).get(t, local[t]) for t in terms}
        local_total = sum(local.values()) or 1.0
        corpus_total = sum(corpus.values()) or 1.0
        best_fused = max((u.passage.score for u in units), default=0.0) or 1.0
        for unit in units:
            body = sum(local[t] for t in terms if t in unit.terms) / local_total
            context = sum(local[t] for t in terms if t in unit.path_terms and t not in unit.terms) / local_total
            covered = sum(corpus[t] for t in terms if t in unit.terms or t in unit.path_terms) / corpus_total
            similarity = unit.passage.similarity or 0.0
            # Ranking: coverage of the question by the unit (its section path at half
            # weight, since every unit of a section shares it), closeness of the passage in
            # embedding space, and the retriever's own rank as a prior (it weighed the
            # chunk as a whole).
            prior = unit.passage.score / best_fused
            unit.body = body
            unit.score = 0.5 * min(1.0, body + 0.5 * context) + 0.3 * similarity + 0.2 * prior
            # Evidence: how much of the question (corpus-weighted) the unit and its section
            # path cover, blended with embedding closeness.
            unit.evidence = 0.6 * covered + 0.4 * similarity
        return terms

    def assess(self, question: str, passages: list[Passage], weights: Mapping[str, float] | None = None) -> float:
        """The evidence score the abstention threshold is compared with.

        Messages often carry a preamble ("My card was charged for a course. Anyway, how
        many years..."), and the ask comes last: the final clause is judged on its own too,
        and the better of it and the whole message counts. (Not any clause: an on-topic
        preamble must not lend its evidence to an off-topic ask, as in "Given the KPIs,
        what salary should I negotiate?")
        """
        units = self._units(passages)
        best = 0.0
        for clause in [question, *_clauses(question)[-1:]]:
            if self._score(clause, units, weights):
                best = max(best, max((u.evidence for u in units), default=0.0))
        return best

    def compose(
        self, question: str, passages: list[Passage], weights: Mapping[str, float] | None = None
    ) -> tuple[str, bool]:
        """(answer text, abstained)."""
        if not passages or self.assess(question, passages, weights) < self._min_evidence:
            return ABSTAIN_TEXT, True
        units = self._units(passages)
        terms = self._score(question, units, weights)
        if not terms or not units:
            return ABSTAIN_TEXT, True
        ranked = sorted(units, key=lambda u: (-u.score, u.order))
        # A unit that says nothing its headings do not ("Role title: Staff Data Engineer")
        # answers nothing; it is kept only when nothing else is left.
        ranked = [u for u in ranked if u.terms - u.path_terms - self._terms_of(u.passage.title)] or ranked
        best = ranked[0]
        extreme = self._superlative(question, ranked)
        asks_for_a_role = bool(_ASKS_FOR_A_ROLE.search(question))
        if extreme is not None:
            chosen = [extreme]
        elif _wants_list(question) and not asks_for_a_role and not self._row_names_the_ask(best, terms):
            # ("Who owns the data contracts?" asks for a role, not the items of a section.)
            frequencies = _FREQUENCY.findall(question.lower())
            # "Which KPIs are reviewed weekly?": the best KPI row tracked that often anchors
            # the list wherever the other rules would land ("Weekly activities" shares the
            # words too); _list_items then keeps the rows of its table tracked that often.
            timely = next((
                u for u in ranked
                if frequencies and _KPI_ASKED.search(question) and _cell(u, "example target")
                and any(f in _cell(u, "frequency").lower() for f in frequencies)
            ), None)
            anchor = timely or self._named_section(ranked, terms) or self._list_anchor(ranked)
            chosen = self._list_items(anchor, units, frequencies)
            # A list from a section the question did not name says which one it is
            # ("What communication skills ...?" landing on "Weak candidate signals").
            hits, size = self._asked_words(chosen[0].passage.section_path.rsplit(" › ", 1)[-1], terms)
            if 2 * hits < size:  # (_list_items always returns the anchor's items at least)
                chosen[:1] = self._headed(chosen[:1])
        elif _COMPARED.search(question) and len({u.passage.title for u in ranked}) > 1:
            # One line per role, each saying whose it is.
            return " ".join(_whose(u) for u in self._per_document(ranked)), False
        else:
            # Single facts taken from lists read as fragments without their heading:
            # "Introducing a new datastore, ..." answers "Can X choose a datastore without
            # approval?" only under "Requires team approval / architecture review".
            chosen = self._headed(self._facts(ranked))
        if asks_for_a_role:
            lines = [_whose(u) for u in chosen]
        else:
            lines = [f"{_finish(u.text)} [{u.passage.marker}]" for u in chosen]
        if len(lines) > 1 and _wants_list(question):
            return "\n".join(f"- {line}" for line in lines), False
        return " ".join(lines), False

    @staticmethod
    def _superlative(question: str, ranked: list[_Unit]) -> _Unit | None:
        """'Which dimension has the highest weight?': among the rows of the best row's
        table, the one with the largest (or smallest) number in that column."""
        match = _SUPERLATIVE.search(question)
        best = ranked[0]
        if match is None or best.passage.kind != "table_row" or not best.passage.cells:
            return None
        column = next((c for c in best.passage.cells if c.lower() in ("weight", "weighting")), None)
        if column is None:
            return None
        table = best.passage.section_path.rsplit(" › ", 1)[0]
        rows = [
            u for u in ranked
            if u.passage.kind == "table_row" and u.passage.cells and column in u.passage.cells
            and u.passage.section_path.rsplit(" › ", 1)[0] == table
        ]
        valued = [(float(m.group()), u) for u in rows if (m := _NUMBER.search(u.passage.cells[column]))]
        if len(valued) < 2:
            return None
        pick = max if match.group(1).lower() in ("highest", "largest", "most", "biggest", "top", "leads") else min
        return pick(valued, key=lambda pair: pair[0])[1]

    @staticmethod
    def _list_anchor(ranked: list[_Unit]) -> _Unit:
        """For a list answer, the section of the retriever's highest-ranked passage wins
        when one of its units is nearly as good as the best unit: a single item elsewhere
        that happens to share words ("a 6-12 month roadmap" for "12-month objectives")
        must not pull the answer into the wrong list."""
        best = ranked[0]
        top_marker = min(u.passage.marker for u in ranked)
        for unit in ranked:
            if unit.passage.marker != top_marker or unit.score < 0.8 * best.score:
                continue
            # A row of another kind of table ("Reliability ... carries a weight of 15%" in
            # the interview scorecard, for "Which KPIs ...?") must not take the answer away
            # from the KPI row that matched best; the same table in another blueprint may.
            if unit.passage.kind == "table_row" and _table(unit) != _table(best):
                continue
            return unit
        return best

    def _named_section(self, ranked: list[_Unit], terms: list[str]) -> _Unit | None:
        """The best unit of a section whose title the question spells out ("What production
        systems and code does X deliver?" -> "Key Deliverables > Production systems and
        code"): at least two words of the title, and two thirds of them, are asked for,
        so a one-word title ("Skills") does not outrank a closer match. Of several such
        sections (one per role when no role is named), the one whose title says most of
        the question wins, then the retriever's first, as in ``_list_anchor``."""
        best: tuple[int, int, _Unit] | None = None
        seen: set[str] = set()
        for unit in ranked:  # best unit of each section first
            if unit.passage.kind == "table_row" or unit.passage.section_path in seen:
                continue
            seen.add(unit.passage.section_path)
            hits, size = self._asked_words(unit.passage.section_path.rsplit(" › ", 1)[-1], terms)
            if hits >= 2 and 3 * hits >= 2 * size:
                key = (hits, -unit.passage.marker, unit)
                if best is None or key[:2] > best[:2]:
                    best = key
        return best[2] if best else None

    def _asked_words(self, title: str, terms: list[str]) -> tuple[int, int]:
        """(question terms that ``title`` says, words of ``title``), noise left out."""
        words = self._terms_of(title) - self._noise.difference(terms)  # a noise word asked for counts
        return len(_with_prefixes(words, terms).intersection(terms)), len(words)

    def _row_names_the_ask(self, best: _Unit, terms: list[str]) -> bool:
        """A table row whose name the question mostly spells out ("Top KPIs" for "list the
        top KPIs", "Deployment lead time" for "what are the lead time targets") is the
        answer itself, not one item of a list the question asks for ("Business KPI lift"
        is one of the KPIs that "What are the KPIs?" asks for)."""
        if best.passage.kind != "table_row":
            return False
        name = best.passage.section_path.rsplit(" › ", 1)[-1]
        hits, size = self._asked_words(name, terms)
        return hits >= 1 and 3 * hits >= 2 * size

    def _list_items(self, anchor: _Unit, units: list[_Unit], frequencies: Sequence[str] = ()) -> list[_Unit]:
        """The items a list question asks for: the retrieved rows of the anchor's table,
        else the items of the anchor's section.

        The anchor's table is the one its row belongs to or, for a passage that matched
        only through its section's title, the one under that section: "What are the
        KPIs?" lands on the KPI section's introduction, whose items are the rows below
        it. An introduction that says what was asked ("Targets should be agreed with
        SRE ...") answers with its own sentences."""
        path = anchor.passage.section_path
        if anchor.passage.kind == "table_row":
            table = path.rsplit(" › ", 1)[0]
        elif anchor.body == 0.0:
            table = path
        else:
            return self._section_items(anchor, units)
        rows = [
            u for u in units
            if u.passage.kind == "table_row" and u.passage.section_path.rsplit(" › ", 1)[0] == table
        ]
        # "Which KPIs are reviewed weekly?": the rows tracked at that frequency, when any are.
        timely = [u for u in rows if any(f in _cell(u, "frequency").lower() for f in frequencies)]
        if timely:
            return _distinct(timely)[: self._max_items]
        if len(rows) < 2:
            return self._section_items(anchor, units)
        # Rows in retrieval order (a table's rows have no order worth keeping across chunks).
        return _distinct(rows)[: self._max_items]

    def _section_items(self, best: _Unit, units: list[_Unit]) -> list[_Unit]:
        """All items of the best unit's section (in document order), up to max_items."""
        same = _distinct(u for u in units if u.passage.section_path == best.passage.section_path)
        if len(same) <= self._max_items:
            return same
        keep = sorted(same, key=lambda u: (-u.score, u.order))[: self._max_items]
        return sorted(keep, key=lambda u: u.order)

    def _per_document(self, ranked: list[_Unit]) -> list[_Unit]:
        """"Compare the Staff Data Engineer and the Staff Backend Engineer": the best unit of
        each blueprint, in rank order, so the answer speaks for both sides."""
        best: dict[str, _Unit] = {}
        for unit in ranked:
            best.setdefault(unit.passage.title, unit)
        return list(best.values())[: self._max_facts]

    def _headed(self, chosen: list[_Unit]) -> list[_Unit]:
        """List items with their section's heading in front, once per section ("60-day
        goals: Take ownership of ..."), unless an item has a label of its own or already
        says the heading's words; other units as they are."""
        headed: list[_Unit] = []
        seen: set[str] = set()
        for unit in chosen:
            path = unit.passage.section_path
            heading = path.rsplit(" › ", 1)[-1]
            if (unit.item and path not in seen and not _LABELLED.match(unit.text)
                    and not self._terms_of(heading) <= unit.terms):
                unit = replace(unit, text=f"{heading}: {unit.text}")
            seen.add(path)
            headed.append(unit)
        return headed

    def _facts(self, ranked: list[_Unit]) -> list[_Unit]:
        chosen = [ranked[0]]
        for unit in ranked[1:]:
            if len(chosen) >= self._max_facts or unit.score < 0.75 * ranked[0].score:
                break
            if any(len(unit.terms & c.terms) > 0.6 * max(1, len(unit.terms)) for c in chosen):
                continue  # says nothing new
            chosen.append(unit)
        return chosen

    # -- Provider protocol -------------------------------------------------------------------
    async def complete(self, request: ProviderRequest, *, timeout: float) -> ProviderResponse:
        text, abstained = self.compose(request.question, request.passages, request.term_weights)
        return ProviderResponse(text=text, model="ladder-extractive", abstained=abstained)

    async def stream(self, request: ProviderRequest, *, timeout: float) -> AsyncIterator[StreamDelta]:
        text, abstained = self.compose(request.question, request.passages, request.term_weights)
        # Word-sized deltas, so clients render progressively as they would with an LLM.
        # An abstention says so with its first delta: the gateway then relays the fixed
        # message as it is, exactly as a non-streamed abstention skips the output guards.
        for index, piece in enumerate(re.findall(r"\S+\s*|\s+", text)):
            yield StreamDelta(text=piece, extra={"abstained": True} if abstained and index == 0 else {})
        yield StreamDelta(finish_reason="stop", extra={"abstained": abstained})
