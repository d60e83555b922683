"""Turn a conversation into one retrieval query and an optional role filter.

Follow-ups such as "and for Principal?" or "what about its frequency?" carry
little meaning alone, so the previous user question is folded in, with the
role it named swapped for the one the follow-up names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.roles import RoleCatalog

_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|same for|what of|and what about|also|then|ok,? and|for the)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|its|that|this|they|their|them|those|these|the role|that role)\b", re.IGNORECASE)
_SHORT = 7  # words; shorter questions that name no topic lean on the previous turn


@dataclass(frozen=True)
class QueryPlan:
    query: str
    roles: list[str]  # role slugs to filter on (empty = all roles)
    follow_up: bool


def _is_follow_up(question: str) -> bool:
    words = question.split()
    return bool(_FOLLOW_UP.match(question)) or (len(words) <= _SHORT and bool(_PRONOUN.search(question)))


def plan_query(
    messages: list[dict[str, str]], catalog: RoleCatalog, explicit_role: str | None = None
) -> QueryPlan:
    users = [m["content"] for m in messages if m.get("role") == "user" and m.get("content")]
    question = users[-1].strip()
    previous = users[-2].strip() if len(users) > 1 else None

    prior_roles = catalog.mentioned(previous) if previous else []
    context = explicit_role or (prior_roles[0] if prior_roles else None)
    named = catalog.mentioned(question, context=context)

    if previous is not None and _is_follow_up(question):
        query = f"{previous} {question}"
        if named and prior_roles:
            # "and for Principal?": ask the previous question about the newly named role.
            old_names = [catalog.get(slug).role for slug in prior_roles]
            query = previous
            for name in old_names:
                query = re.sub(re.escape(name), catalog.get(named[0]).role, query, flags=re.IGNORECASE)
            query = f"{query} {question}"
        roles = named or prior_roles
        if explicit_role:
            roles = [explicit_role]
        return QueryPlan(query=query, roles=roles, follow_up=True)

    roles = [explicit_role] if explicit_role else named
    return QueryPlan(query=question, roles=roles, follow_up=False)
