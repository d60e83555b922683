"""Turn a conversation into one retrieval query and an optional role filter.

* A role the question names becomes a filter, and its name is dropped from the
  query: inside one blueprint every passage is about that role, so the name only
  pulls in passages that happen to repeat it ("The Staff Applied AI Engineer
  typically reports to ...") over the ones that answer.
* Follow-ups ("and for Principal?", "what about its frequency?", "which one has
  the lowest weight?") carry little meaning alone, so the previous user question
  is folded in, with the role it named swapped for the one the follow-up names.
* A conversation keeps its role through pronouns ("what tools do they use?"), and
  "the second one" names what the latest listed answer put second.
* Phrasings map to the blueprints' fixed section titles (``_EXPANSIONS``); two roles
  compared as a whole are both filters.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from gateway.roles import RoleCatalog
from retrieval.analyzer import Analyzer

_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|same for|what of|also|then|ok,? and|for the|is that|"
    r"is it|are they|does it|do they|how does that|compared)\b",
    re.IGNORECASE,
)
_REFERENCE = re.compile(
    r"\b(it|its|that|this|they|their|them|those|these|same|one|ones|the role|that role|"
    r"different|instead|too|either)\b",
    re.IGNORECASE,
)
_COMPARISON = re.compile(r"\b(differences?|differ|differs|different|compare[sd]?|comparison|vs|versus)\b",
                         re.IGNORECASE)
_LEVELS = re.compile(r"\b(senior|staff|principal)\b", re.IGNORECASE)
_PROMOTION = "skills needed for promotion"
_SUMMARIES = "role summary"
# Career questions are phrased many ways; the blueprints use a few fixed section titles.
# Adding those titles' words lets both retrievers reach the right section.
#
# The last field marks section words that help BM25 find a section but not the dense side:
# the question as asked embeds about as well, and a rewritten text costs a second model
# call per request (the input guards embed the question itself). Measured on the golden
# set: embedding the question instead of the role-summary / career-move expansions lost
# two cases, so those stay in the embedded text; the others did not need to be.
_EXPANSIONS: list[tuple[re.Pattern[str], str, bool]] = [
    (re.compile(r"\b(comes?|coming) after|\bfollows?\b|\bmove (in)?to\b|\bnext (step|move)|"
                r"\bprogress(ion)? (from|after)|\bafter (this|the|that) role", re.IGNORECASE),
     "next likely roles", False),
    (re.compile(r"\bfeeds? into\b|\bbefore becoming\b|\bcomes? from\b|\blead(s)? into\b",
                re.IGNORECASE), "common feeder roles", False),
    # "promotion", "move from senior ML engineer to staff", "get to principal", "level up",
    # "become staff" (a bare level: "become a Staff Data Engineer" asks what that role needs).
    (re.compile(r"\bpromot(ed|ion)\b|\blevel up\b|\breach (the )?(senior|staff|principal)\b|"
                r"\bbecom(e|ing) (a |an )?(senior|staff|principal)\b"
                r"(?! (applied|ml|machine|backend|data|ai|mlops|platform|software)\b)|"
                r"\b(get|getting|move|moving|step|go|going|grow|growing) (up )?(from \w+( [\w/-]+){0,4} )?"
                r"to (the )?(senior|staff|principal)\b", re.IGNORECASE), _PROMOTION, False),
    # "Who are the stakeholders?": the internal ones are the long list that answers; the short
    # "External stakeholders (as applicable)" section otherwise ranks first on both sides.
    (re.compile(r"^(?!.*\b(external|outside|vendors?|customers?)\b).*\bstakeholders?\b", re.IGNORECASE),
     "internal stakeholders", True),
    # "Which KPIs are reviewed quarterly?": the KPI rows' own words ("KPI: ...; Frequency:
    # Quarterly"). The analyzer keeps the "s" of "KPIs", so the rows' "KPI" did not match.
    (re.compile(r"^(?=.*\b(kpis?|metrics?)\b)(?=.*\b(daily|weekly|monthly|quarterly)\b)", re.IGNORECASE),
     "KPI frequency", True),
    # "in the first 30 days", "by day 90", "after 60 days": the N-day goals sections.
    (re.compile(r"\b(first|by|after|within|in|at) (the )?(first )?(30|60|90)[- ]?days?\b|\bby day (30|60|90)\b",
                re.IGNORECASE), "day goals", True),
    # The same sections asked for in months: "in their first month", "first quarter".
    (re.compile(r"\b(first|1st|opening) month\b|\bfirst (few |two |2 |three |3 |four |4 )?weeks?\b", re.IGNORECASE),
     "30-day goals", True),
    # "What should a new X focus on first?", "when they start": the opening goals.
    (re.compile(r"\bfocus on first\b|\bfirst (focus|priorities|priority|steps?)\b|\bnew (hire|joiner|starter)\b|"
                r"\b(when|after|once) (they|i|you|he|she) (start|join)s?\b", re.IGNORECASE), "30-day goals", True),
    (re.compile(r"\bfirst (two|2) months\b", re.IGNORECASE), "60-day goals", True),
    (re.compile(r"\bfirst (three|3) months\b|\bfirst quarter\b", re.IGNORECASE), "90-day goals", True),
    (re.compile(r"\bfirst (six|6) months\b|\bfirst half[- ]year\b", re.IGNORECASE),
     "6-month milestones", True),
    (re.compile(r"\bfirst (full )?year\b|\bfirst (twelve|12) months\b", re.IGNORECASE),
     "12-month objectives", True),
    (re.compile(r"\bsuccess (is )?(defined|definition|look(s)? like|mean(s)?)\b|\bdefine(s|d)? success\b",
                re.IGNORECASE), "role success definition", True),
    # "What skills do I need to become a X?": what X itself must have, not how X changes.
    (re.compile(r"\bskills?\b.*\b(become|becoming)\b|\b(become|becoming)\b.*\bskills?\b", re.IGNORECASE),
     "must-have technical skills", True),
    # "What does it take to become a X?", "What should I learn to become a X?": what X must
    # have. ("become staff" alone is the promotion row above; both may apply.)
    (re.compile(r"\b(take|need|learn|know|study|prepare|master)\b.{0,30}\bto (become|be) (a|an)\b|"
                r"\bhow (do|can|could|would|should) (i|you|one|someone|people) (become|get hired as) (a|an)\b",
                re.IGNORECASE), "must-have technical skills", True),
    # "How is a X's performance measured?", "How is a X measured?": the KPI table and what
    # high performance looks like. ("How is a candidate evaluated?" is hiring: not matched.)
    (re.compile(r"\bperformance\b.{0,30}\b(measured|reviewed|evaluated|assessed|judged|rated)\b|"
                r"\b(measure|review|evaluate|assess|judge|rate)s? .{0,20}\bperformance\b",
                re.IGNORECASE), "KPIs and productivity metrics what high performance looks like", True),
    (re.compile(r"^\s*how (is|are) (a |an |the |my )?[\w'’ -]{0,60}\b(measured|judged)\s*\??\s*$", re.IGNORECASE),
     "KPIs and productivity metrics", True),
    (re.compile(r"\bprogramming languages?\b|\bwhich languages?\b|\bwhat languages?\b", re.IGNORECASE),
     "programming language must-have technical skills", True),
    # "What is the team size of an EM?", "How many engineers does X manage?": the blueprints
    # give it in the team topology and scale/complexity context.
    (re.compile(r"\bteam size\b|\bsize of (the |their |his |her )?team\b|\bhow (big|large) (a |is the |is their )?team\b|"
                r"\bhow many (engineers|people|direct reports|reports)\b", re.IGNORECASE),
     "team of engineers scale complexity context team topology", True),
    (re.compile(r"\bday[- ]to[- ]day\b|\bon a typical (day|week)\b|\bdaily work\b", re.IGNORECASE),
     "day-to-day activities daily", True),
    # "How should X communicate with executives?": the soft skills say how ("Stakeholder
    # communication and expectation management"), in one long item that length
    # normalization otherwise buries.
    (re.compile(r"\bhow (should|does|do|can|would) .{0,60}\bcommunicat|\bcommunication (style|skills?)\b",
                re.IGNORECASE), "stakeholder communication soft skills", True),
    (re.compile(r"\b(biggest|main|key|common|typical) (risks|challenges|pitfalls)\b|\bwhat can go wrong\b|"
                r"\bfailure modes\b", re.IGNORECASE), "risks challenges failure modes common role challenges", True),
    # "What is expected of X in incident response / on call?": every blueprint has a section
    # for it. Not "How fast should X detect data incidents?", which is a KPI.
    (re.compile(r"\bincident (response|work|handling|management|duty|duties)\b|\bon[- ]call\b|\boutages?\b|"
                r"\bemergenc(y|ies)\b|\bescalations?\b|\b(during|in) (an |a )?incidents?\b|"
                r"\b(handl(e|es|ing)|respond(s|ing)? to) (an |a )?incidents?\b", re.IGNORECASE),
     "incident escalation emergency work", True),
    (re.compile(r"\b(on (his|her|their|its) own|independently|without (any )?approval|"
                r"by (himself|herself|themselves|itself))\b", re.IGNORECASE), "can decide independently", True),
    # "Can X decide promotions by themselves?" is answered by whichever list holds the thing:
    # what X decides alone, or what needs approval. Asking only the first missed the second.
    (re.compile(r"^\s*(can|may|could|is|are|does|do)\b.*\b(on (his|her|their|its) own|independently|"
                r"without (any )?approval|by (himself|herself|themselves|itself))\b", re.IGNORECASE),
     "requires approval", True),
    (re.compile(r"\b(needs?|requires?|get) (\w+ )?(approval|sign-?off)\b|\bapproval (for|to)\b",
                re.IGNORECASE), "requires approval", True),
    # "What is a X?", "What does a X do?": the whole role. Not "What does a X need approval
    # for?" or "What does a strong X look like?", which ask about one part of it.
    (re.compile(r"\bin a nutshell\b|\boverview\b|\btell me about\b|\bdescribe\b|"
                r"^\s*what is (a|an)\s+(\w+\s+){0,5}\w+\s*\??\s*$|"
                r"^\s*what does (a|an)\s+([\w,/&-]+\s+){0,6}do\s*\??\s*$", re.IGNORECASE),
     "role summary", False),
]
# "What does an MLOps engineer do day to day?" also has the shape of "what does a X do?":
# a more specific expansion wins over the role summary.
_SUMMARY = "role summary"
_LEVEL_SWAP = re.compile(
    r"^\s*(and|what about|how about|same for|and what about)\s+(for\s+)?(an? |the )?"
    r"(senior|staff|principal)(\s+(level|engineer|engineers|role|one))?\s*\??\s*$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")
_SHORT = 12  # words: shorter questions that name no role lean on the previous turn
_MIN_TERMS = 2

_analyzer = Analyzer()


@dataclass(frozen=True)
class QueryPlan:
    query: str
    roles: list[str]  # role slugs to filter on (empty = all roles)
    follow_up: bool
    unknown_role: str | None = None  # a job title the question names that has no blueprint
    # "What are the KPIs?" with no role anywhere: every blueprint has them, so answering from
    # whichever ranks first would state one role's KPIs as if they were the answer.
    needs_role: bool = False
    focus: str = ""  # what the answer should address: the latest question when it stands alone
    # What the dense retriever embeds. The question as asked when the plan only moved role
    # names into a filter: the input guards embed exactly that text, so the request needs
    # one model call, and on the golden set the role-stripped text ranked no better for
    # the dense side (the names matter to BM25's term counts, not to a sentence vector).
    # Follow-ups and expanded questions embed the rewritten query, which says more.
    vector_text: str = ""


# Pronouns for the person in the role ("what tools do they use?"), as against references to
# the previous answer's subject ("how often is that reviewed?", "and the 60-day ones?").
_PERSON = re.compile(r"\b(they|their|them|theirs|themselves|he|she|his|her|him)\b", re.IGNORECASE)
_THING = re.compile(
    r"\b(it|its|that|this|those|these|same|one|ones|different|instead|too|either|also)\b", re.IGNORECASE
)


_ORDINAL = re.compile(
    r"\b(?:the )?(first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th) "
    r"(?:one|item|kpi|metric|skill|tool|goal|role|option|point|bullet|thing)\b",
    re.IGNORECASE,
)
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "last": -1}
_MARKERS = re.compile(r"\s*\[\d+\]")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+)$", re.MULTILINE)
_NUMBERED = re.compile(r"\b\d+\)\s+")


def _listed_items(answer: str) -> list[str]:
    """The names of the things an earlier answer listed, in order: its bullet lines up to
    their first ":" or " (" ("- Team onboarding time (Time for ...)"), else an inline list
    after a label ("Top KPIs: Deployment lead time, pipeline reliability, ...")."""
    text = _MARKERS.sub("", answer)
    bullets = _BULLET.findall(text)
    if len(bullets) >= 2:
        return [re.split(r":|\s\(", line, maxsplit=1)[0].strip() for line in bullets]
    label, colon, listed = text.partition(": ")
    if not colon or len(label.split()) > 5:  # "Top KPIs: ...", not a KPI row's sentence
        return []
    listed = listed.split(". ", 1)[0].strip().rstrip(".")
    numbered = [p.strip() for p in _NUMBERED.split(listed) if p.strip()]
    items = numbered if len(numbered) >= 3 else re.split(r",\s+(?:and\s+)?", listed)  # not "1,000"
    if len(items) >= 2 and " and " in items[-1]:
        items[-1:] = items[-1].rsplit(" and ", 1)  # "A, B and C"
    items = [item.strip() for item in items if item.strip()]
    return items if len(items) >= 3 and all(len(item.split()) <= 8 for item in items) else []


def _resolve_ordinals(
    messages: list[dict[str, str]], last_query: str | None = None
) -> tuple[list[str], str | None]:
    """User turns, and ``last_query`` (the latest turn's normalized text), with "the first
    one" / "the last KPI" replaced by what the latest answer with a list named in that
    place, so "what is the target for the first one?" asks about it."""
    users: list[str] = []
    items: list[str] = []  # of the latest answer that listed any ("and the second one?")
    before_last: list[str] = []  # the list in effect at the latest user turn
    for message in messages:
        content = message.get("content") or ""
        if message.get("role") == "assistant":
            items = _listed_items(content) or items
        elif message.get("role") == "user" and content:
            users.append(_name_ordinal(content, items))
            before_last = items
    return users, None if last_query is None else _name_ordinal(last_query, before_last)


def _name_ordinal(text: str, items: list[str]) -> str:
    match = _ORDINAL.search(text) if items else None
    if match is None:
        return text
    index = _ORDINALS[match.group(1).lower()]
    return f"{text[:match.start()]}{items[index]}{text[match.end():]}" if index < len(items) else text


_DESCRIBED = re.compile(r"\bthe ([a-z]+(?:[- ][a-z]+)?) (one|role|path|option|track)\b", re.IGNORECASE)


def _last_answer(messages: list[dict[str, str]]) -> str:
    """The latest assistant turn before the latest user turn ("" when none)."""
    seen_user = False
    for message in reversed(messages):
        if message.get("role") == "user":
            seen_user = True
        elif message.get("role") == "assistant" and seen_user:
            return message.get("content") or ""
    return ""


def _name_described(text: str, answer: str, catalog: RoleCatalog) -> str:
    """"the management one" -> the one role the latest answer named whose title says so
    ("Engineering Manager, Applied AI" among "Principal Applied AI Engineer, Engineering
    Manager (Applied AI), AI Platform Lead / Architect")."""
    match = _DESCRIBED.search(text) if answer else None
    words = set(_analyzer.tokenize(match.group(1))) if match else set()
    if not words:
        return text
    named = [slug for slug in catalog.mentioned(answer)
             if words & set(_analyzer.tokenize(catalog.role_name(slug)))]
    if len(named) != 1:
        return text
    return f"{text[:match.start()]}the {catalog.role_name(named[0])}{text[match.end():]}"


# Words that name a part every blueprint has, or frame a question about it: a question made
# of nothing else ("What are the KPIs?", "What are the 30-day goals?") is about some role.
# The parts of a blueprint, as questions name them (also read by _PART below).
_PART_WORDS = (
    "kpi kpis metric metrics target targets goal goals objective objectives milestone milestones skill skills "
    "responsibility responsibilities duties tool tools deliverable deliverables stakeholder stakeholders risk "
    "risks challenge challenges activities qualification qualifications experience certification "
    "certifications education career promotion"
)
_ANY_ROLE_WORDS = frozenset(_analyzer.tokenize(
    f"{_PART_WORDS} measure measured duty path promoted summary mission "
    "main key top typical list give show tell about role job position expected expectations expect need "
    "needs require required requirements day days first month months week weeks year 30 60 90 6 12 daily "
    "weekly core important most common own owns track tracks success successful look like use used uses "
    "matter matters"
))


def _asks_about_any_role(question: str) -> bool:
    terms = set(_analyzer.tokenize(question))
    return bool(terms) and terms <= _ANY_ROLE_WORDS


def _conversation_roles(earlier: list[str], catalog: RoleCatalog) -> list[str]:
    """The roles of the latest earlier user turn that named any: a conversation about a
    Staff Backend Engineer stays about it through "what tools do they use?"."""
    for text in reversed(earlier):
        roles = catalog.mentioned(_PLACEHOLDER.sub(" ", text))
        if roles:
            return roles
    return []


def _about_the_role_holder(question: str) -> bool:
    """A question that stands alone but for a pronoun for the role's holder."""
    if not _PERSON.search(question) or _THING.search(question) or _FOLLOW_UP.match(question):
        return False
    return _terms(_PERSON.sub(" ", question)) >= 1  # "who do they report to?": "report"


# The parts of a blueprint a question can be about. A follow-up that turns to another part
# ("What are its main risks?", then "And what tools does it use for serving?") is a new
# question about the same role, not about the risks.
_PART = re.compile(
    r"\b(" + "|".join(_PART_WORDS.split()) + r"|platforms?|stack|meetings|rituals|interviews?|signals|decisions?|"
    r"approvals?|authority|incidents?|on[- ]call|team|salary)\b",
    re.IGNORECASE,
)
_POINTERS = re.compile(r"^\s*(and|also|ok,? and|then)\b|\b(it|its)\b", re.IGNORECASE)


def _turns_to_another_part(question: str, previous: str) -> bool:
    """``question`` asks about a part of the blueprint ``previous`` did not ("tools" after
    "risks") and says enough to stand alone once its pointers go: "what tools ... use for
    serving", or a whole part ("and what are the KPIs?"); not "What is the target?", which
    needs the KPI asked about before."""
    asked = [m.group(1).lower() for m in _PART.finditer(question)]
    parts = {a.rstrip("s") for a in asked}
    if not parts or parts & {m.group(1).lower().rstrip("s") for m in _PART.finditer(previous)}:
        return False
    terms = _terms(_POINTERS.sub(" ", question))
    return terms >= 2 or (terms == 1 and any(a.endswith("s") for a in asked))


def _leaned_on(earlier: list[str], catalog: RoleCatalog) -> str:
    """The earlier question a follow-up builds on: the last one, with the one before it
    when the last was itself a bare follow-up ("What is the inference availability KPI?",
    "What is the target?", then "and the frequency?" asks about the availability KPI)."""
    text = earlier[-1]
    for index in range(len(earlier) - 1, max(0, len(earlier) - 3), -1):
        turn = earlier[index]
        if _terms(turn) > 2 or len(turn.split()) > _SHORT or catalog.mentioned(turn):
            break
        text = f"{earlier[index - 1]} {text}"
    return text


def _terms(text: str) -> int:
    return len(_analyzer.tokenize(text))


@functools.lru_cache(maxsize=4096)
def _matching(asked: str) -> tuple[tuple[str, bool], ...]:
    """(section words, lexical only) of every expansion ``asked`` calls for. A plan expands
    the same question three or four ways; the ~18 patterns cost ~70 us a pass."""
    return tuple((words, lexical_only) for pattern, words, lexical_only in _EXPANSIONS if pattern.search(asked))


def _expand(query: str, *, source: str | None = None, for_embedding: bool = False,
            also: tuple[str, ...] = ()) -> str:
    """``query`` with the section words its question calls for (and ``also``). ``source`` is
    that question as asked when ``query`` has lost the role names ("move from senior ML
    engineer to staff" -> "move from to staff" no longer reads as a promotion)."""
    extra = list(dict.fromkeys(  # two patterns may point at the same section
        [words for words, lexical_only in _matching(query if source is None else source)
         if not (for_embedding and lexical_only)] + list(also)
    ))
    if len(extra) > 1 and _SUMMARY in extra:
        extra.remove(_SUMMARY)
    # In front: the user's own last clause stays last (the answer judges it on its own).
    return f"{' '.join(extra)}: {query}" if extra else query


# What a question comparing two roles (or two levels of one) as a whole may say besides them.
_COMPARING_WORDS = frozenset(_analyzer.tokenize(
    "what is are the main key difference differences differ differs different compare compared "
    "comparison versus vs between senior staff principal engineer engineers role roles level levels "
    "job scope responsibilities expectations"
))


def _comparison_words(question: str, catalog: RoleCatalog, roles: list[str]) -> tuple[str, ...]:
    """Section words for two roles compared as a whole; not for "how does the coding exercise
    for Staff compare with Senior?", which asks about one part of both.

    * Two levels ("the difference between a Staff and a Principal X", "staff vs principal"):
      the lower level's blueprint says what the next one adds ("Skills needed for promotion
      (Staff → Principal)"); the roles' summaries are too general to tell them apart.
    * Two roles of one level ("Compare the Staff Data Engineer and the Staff Backend
      Engineer"): each one's role summary."""
    if not _COMPARISON.search(question) or set(_analyzer.tokenize(catalog.strip_mentions(question))) - _COMPARING_WORDS:
        return ()
    if len({m.lower() for m in _LEVELS.findall(question)}) >= 2:
        return (_PROMOTION,)
    return (_SUMMARIES,) if len(roles) >= 2 else ()


def _without_roles(text: str, catalog: RoleCatalog, min_terms: int = _MIN_TERMS) -> str:
    if len(catalog.mentioned(text)) > 1:
        # "Is X a possible move for a Y?": with two roles the names are the subject.
        return text
    stripped = catalog.strip_mentions(text)
    return stripped if _terms(stripped) >= min_terms else text


def _focus(question: str, catalog: RoleCatalog) -> str:
    """What the answer must address, without the role's name once the role is a filter:
    judged sentence by sentence, the name favours passages that repeat it ("The Staff
    Applied AI Engineer typically reports to ...") over the KPI rows that answer "What
    KPIs does a Staff Applied AI Engineer own?". One remaining term is enough here, even
    where the retrieval query keeps the name (a question about the role as a whole)."""
    return _without_roles(question, catalog, min_terms=1)


def plan_query(
    messages: list[dict[str, str]],
    catalog: RoleCatalog,
    explicit_role: str | None = None,
    *,
    last_query: str | None = None,
) -> QueryPlan:
    """``last_query`` replaces the last user message's text (the guards' normalized form)."""
    users, last_query = _resolve_ordinals(messages, last_query)
    question = _PLACEHOLDER.sub(" ", last_query if last_query is not None else users[-1]).strip()
    question = _name_described(question, _last_answer(messages), catalog)
    previous = _PLACEHOLDER.sub(" ", _leaned_on(users[:-1], catalog)).strip() if len(users) > 1 else None

    prior_roles = _conversation_roles(users[:-1], catalog)
    context = explicit_role or (prior_roles[0] if prior_roles else None)
    named = catalog.mentioned(question, context=context)
    words = len(question.split())
    cue = bool(_FOLLOW_UP.match(question)) or bool(_REFERENCE.search(question))

    # "hi", then "What are the KPIs?": no turn has named a role and this one does not point
    # back at the last, so it is a first question about some role, not a follow-up.
    no_role_yet = (previous is not None and not named and not prior_roles and not explicit_role and not cue
                   and _asks_about_any_role(question))

    if previous is not None and not named and prior_roles and (
        _about_the_role_holder(question) or _turns_to_another_part(question, previous)
    ):
        # "Who do they report to?" / "And what tools does it use?" after questions about a
        # Staff Backend Engineer: a new question about the same role, not about the previous
        # question's subject.
        question_roles = [explicit_role] if explicit_role else prior_roles
        own = _expand(" ".join(_POINTERS.sub(" ", _PERSON.sub(" ", question)).split()), source=question)
        return QueryPlan(query=own, roles=question_roles, follow_up=True, focus=own,
                         vector_text=_expand(question, for_embedding=True))

    if previous is not None and not no_role_yet and (
        (not named and words <= _SHORT) or (named and (cue or words <= 8))
    ):
        base = previous
        if named and prior_roles:
            # "and for Principal?": ask the previous question about the newly named role.
            for slug in prior_roles:
                base = re.sub(re.escape(catalog.role_name(slug)), catalog.role_name(named[0]), base,
                              flags=re.IGNORECASE)
        roles = [explicit_role] if explicit_role else (named or prior_roles)
        # The latest question twice: BM25 counts repeated query terms, so "day 60" outweighs
        # the "30 days" of the question it follows up on.
        query = f"{base} {question} {question}"
        own = _focus(question, catalog) if roles else question
        if roles:
            query = _without_roles(query, catalog)
        # A question that stands alone is answered as asked; one that points back
        # ("how often is that reviewed?") needs the earlier question's subject too.
        # Judged without role names: "and for the AI Platform Lead?" asks nothing new alone.
        asks = catalog.strip_mentions(question) if named else question
        standalone = _terms(asks) >= _MIN_TERMS and not _REFERENCE.search(question)
        focus = own if standalone else query
        expanded = _expand(query)
        # "and for Principal?" where the earlier role's track has none: say so, rather than
        # answer about the earlier role again. Only for a bare role swap: a level word
        # elsewhere ("do they mentor senior engineers?") is not a role.
        swap = _LEVEL_SWAP.match(question)
        missing = None if named or explicit_role or not swap else catalog.missing_level_title(question, context=context)
        return QueryPlan(query=expanded, roles=roles, follow_up=True, focus=_expand(focus),
                         vector_text=expanded, unknown_role=missing)

    roles = [explicit_role] if explicit_role else named
    if not explicit_role and len(roles) == 1 and _COMPARISON.search(question):
        # "a Staff and a Principal Applied AI Engineer": the staff role is named by its level.
        roles += catalog.same_family_levels(question, roles[0])
    # One remaining term is query enough ("What KPIs does a <role> own?" -> "KPIs"). When an
    # expansion adds section words ("what is a <role>?" -> role summary, "what comes after
    # <role>?", "the first 30 days"), the name stays unless two terms remain, as before:
    # "In a nutshell, what is a <role>?" has only "nutshell" left, and the name is its subject.
    min_terms = _MIN_TERMS if _expand(question) != question else 1
    query = _without_roles(question, catalog, min_terms) if roles else question
    unknown = None if roles else catalog.unknown_title(question)
    also = _comparison_words(question, catalog, roles)
    own = _focus(question, catalog)
    if _SUMMARIES in also:
        # Two roles compared as a whole: both are filters, so retrieval and the answer get
        # the section words alone. The names matched passages that list roles ("Career
        # progression options: ..."), "vs" matched "Startup vs enterprise"; "compare" tells
        # the answer to speak for both roles.
        query, own = "", "compare"
    expanded = _expand(query, source=question, also=also)
    focus = _expand(own, source=question, also=also) if roles else expanded
    embedded = _expand(query, source=question, for_embedding=True, also=also)
    needs_role = not roles and unknown is None and (previous is None or no_role_yet) and _asks_about_any_role(question)
    return QueryPlan(query=expanded, roles=roles, follow_up=False, unknown_role=unknown, needs_role=needs_role,
                     focus=focus, vector_text=embedded if embedded != query else question)
