"""Running the injection rules (patterns.py) over every normalized view of a text.

Rules run on every view produced by
``guardrails.normalize.scan_views``, so one pattern covers its obfuscated
forms too. A hit inside a decoded payload (base64, hex, tags) is raised to at
least 0.9: nobody encodes "what are the KPIs?" in base64.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from guardrails.injection.patterns import FAMILIES, RULES, Rule
from guardrails.normalize import ScanViews

__all__ = [
    "FAMILIES",
    "RULES",
    "RULE_OVERRIDE",
    "Rule",
    "RuleHit",
    "combined_score",
    "family_features",
    "scan",
]


@dataclass(frozen=True)
class RuleHit:
    rule: str
    family: str
    weight: float
    view: str


@cache
def _compiled() -> tuple[tuple[Rule, re.Pattern[str]], ...]:
    return tuple((rule, re.compile(rule.pattern)) for rule in RULES)


# Views that come from decoding: a hit there means the attacker hid it on purpose.
_PAYLOAD_PREFIXES = ("base64", "hex", "hidden_tags", "rot13", "url_decoded")


def scan(views: ScanViews) -> list[RuleHit]:
    """Every rule that fires on any view; at most one hit per rule (the strongest)."""
    best: dict[str, RuleHit] = {}
    for rule, pattern in _compiled():
        for view_name, text in views.views.items():
            if rule.squashed != (view_name == "squashed"):
                continue
            if not pattern.search(text):
                continue
            weight = rule.weight
            if view_name.startswith(_PAYLOAD_PREFIXES):
                weight = max(weight, 0.9)
            hit = RuleHit(rule.id, rule.family, weight, view_name)
            if rule.id not in best or best[rule.id].weight < weight:
                best[rule.id] = hit
    return sorted(best.values(), key=lambda h: (-h.weight, h.rule))


def family_features(hits: list[RuleHit]) -> list[float]:
    """Per family, the strongest hit's weight (0 when none).

    Version 1 of the classifier took these as features; train CV preferred
    version 2 without them (features.py), so only the candidate comparison in
    guardrails/training uses them now."""
    strongest = dict.fromkeys(FAMILIES, 0.0)
    for hit in hits:
        strongest[hit.family] = max(strongest[hit.family], hit.weight)
    return [strongest[family] for family in FAMILIES]


# A rule this sure decides on its own. Weaker rules only show up in the reasons
# (the classifier learns such phrases from the text itself), because "act as ..."
# or "from now on" also occur in honest questions.
RULE_OVERRIDE = 0.75


def combined_score(probability: float, hits: list[RuleHit]) -> float:
    """The injection score: the classifier's probability, raised by any strong rule hit."""
    strong = [hit.weight for hit in hits if hit.weight >= RULE_OVERRIDE]
    return max([probability, *strong])
