"""The query planner on the real corpus's role catalog: filters, name stripping, follow-ups."""

from __future__ import annotations

import pytest

from gateway.query_planner import plan_query
from gateway.roles import RoleCatalog

FIRST = "What is the target for inference availability for a Staff Applied AI Engineer?"


@pytest.fixture(scope="module")
def catalog(corpus_blueprints) -> RoleCatalog:
    return RoleCatalog(corpus_blueprints)


def _turns(*users: str) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for text in users[:-1]:
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": "..."}]
    return messages + [{"role": "user", "content": users[-1]}]


def test_a_named_role_becomes_a_filter_and_leaves_the_query(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns(FIRST), catalog)
    assert plan.roles == ["staff-applied-ai-engineer"]
    assert plan.follow_up is False
    assert "staff applied" not in plan.query.lower()
    assert "inference availability" in plan.query


def test_dense_side_embeds_the_question_as_asked_unless_the_plan_rewrote_it(catalog: RoleCatalog) -> None:
    # Only the role moved into a filter: the dense retriever embeds the question itself,
    # the same text the input guards embed, so the request needs one model call.
    plain = plan_query(_turns(FIRST), catalog)
    assert plain.vector_text == FIRST
    assert plain.query != FIRST
    # Section words added or an earlier turn folded in: the rewritten query says more.
    expanded = plan_query(_turns("What comes after a Staff Applied AI Engineer?"), catalog)
    assert expanded.query.startswith("next likely roles")
    assert expanded.vector_text == expanded.query
    follow = plan_query(_turns(FIRST, "and for the AI Platform Lead?"), catalog)
    assert follow.vector_text == follow.query


def test_follow_up_naming_only_a_role_keeps_the_earlier_question_as_focus(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns(FIRST, "and for the AI Platform Lead?"), catalog)
    assert plan.follow_up is True
    assert plan.roles == ["ai-platform-lead"]
    # The answer is judged against what is asked: the earlier question's subject,
    # not the bare "and for the ...?" left once the role name is gone.
    assert "inference availability" in plan.focus
    assert "inference availability" in plan.query


def test_follow_up_with_its_own_question_is_answered_as_asked(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns(FIRST, "What are the 60-day goals for a Principal Applied AI Engineer?"), catalog)
    assert plan.roles == ["principal-applied-ai-engineer"]
    assert "60-day goals" in plan.focus
    assert "availability" not in plan.focus


def test_unknown_title_is_reported(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns("What are the KPIs of a Chief Happiness Officer?"), catalog)
    assert plan.roles == []
    assert plan.unknown_role is not None


def test_one_remaining_term_is_enough_to_drop_the_role_name(catalog: RoleCatalog) -> None:
    """Left in, the name makes BM25 and the extractive answer favour passages that repeat
    it ("The Staff Applied AI Engineer typically reports to ...") over the KPI rows."""
    plan = plan_query(_turns("What KPIs does a Staff Applied AI Engineer own?"), catalog)
    assert plan.roles == ["staff-applied-ai-engineer"]
    for text in (plan.query, plan.focus):
        assert "staff" not in text.lower() and "kpis" in text.lower()


def test_a_question_about_the_role_itself_keeps_its_name_in_the_query(catalog: RoleCatalog) -> None:
    # "In a nutshell, what is X?" and "what comes after X?": the name is the subject.
    for question in ("In a nutshell, what is a Staff Applied AI Engineer?",
                     "What comes after a Staff Applied AI Engineer?"):
        plan = plan_query(_turns(question), catalog)
        assert plan.roles == ["staff-applied-ai-engineer"]
        assert "staff applied ai engineer" in plan.query.lower()


def test_day_to_day_question_is_not_taken_for_a_role_summary(catalog: RoleCatalog) -> None:
    # "What does an X do day to day?" has the shape of "what does an X do?" too; the more
    # specific section words win, so retrieval reaches Day-to-Day Activities.
    plan = plan_query(_turns("What does an MLOps engineer do day to day?"), catalog)
    assert plan.roles == ["mlops-engineer"]
    assert "day-to-day activities" in plan.query and "role summary" not in plan.query
    assert "role summary" in plan_query(_turns("What does an MLOps engineer do?"), catalog).query


@pytest.mark.parametrize(
    ("question", "words"),
    [("What decisions can a Staff Backend Engineer make on their own?", "can decide independently"),
     ("What does a Staff Data Engineer need approval for?", "requires approval"),
     ("What are the biggest risks in the Principal Applied AI Engineer role?", "risks challenges failure modes")],
)
def test_everyday_phrasings_reach_the_blueprint_section(catalog: RoleCatalog, question: str, words: str) -> None:
    # Users do not say "decide independently" or "failure modes"; the section titles do.
    plan = plan_query(_turns(question), catalog)
    assert words in plan.query and "role summary" not in plan.query


@pytest.mark.parametrize(
    "question",
    ["What does a Staff Data Engineer need approval for?", "What does a strong candidate for Senior ML Engineer look like?"],
)
def test_what_does_a_x_is_a_summary_only_when_it_asks_what_x_does(catalog: RoleCatalog, question: str) -> None:
    assert "role summary" not in plan_query(_turns(question), catalog).query
    assert "role summary" in plan_query(_turns("What does a Staff Data Engineer do?"), catalog).query
    assert "role summary" in plan_query(_turns("What is a Staff Data Engineer?"), catalog).query


@pytest.mark.parametrize(
    ("question", "words"),
    [("What should a Staff Data Engineer do in the first 30 days?", "day goals"),
     ("What should a Senior ML Engineer have shipped by day 90?", "day goals"),
     ("How is success defined for the MLOps Engineer role?", "role success definition"),
     ("Which programming languages should an MLOps Engineer know?", "programming language"),
     ("What skills do I need to become a Staff Applied AI Engineer?", "must-have technical skills"),
     # Months: the same goal sections, which the blueprints title in days.
     ("What does a Staff Data Engineer do in their first month?", "30-day goals"),
     ("What is expected of a Senior ML Engineer in their first two months?", "60-day goals"),
     ("What should an MLOps Engineer achieve in the first three months?", "90-day goals"),
     ("What should a Staff Backend Engineer deliver in the first year?", "12-month objectives"),
     # The KPI rows say "KPI: ...; Frequency: Weekly"; the analyzer keeps the "s" of "KPIs".
     ("Which KPIs does a Staff Data Engineer review weekly?", "KPI frequency"),
     # "Internal stakeholders" is the list that answers; the external one is a line.
     ("Who are the stakeholders of an MLOps Engineer?", "internal stakeholders")],
)
def test_goal_success_and_language_phrasings_name_their_sections(
    catalog: RoleCatalog, question: str, words: str
) -> None:
    assert words in plan_query(_turns(question), catalog).query


def test_a_level_swap_with_no_blueprint_in_the_track_is_an_unknown_role(catalog: RoleCatalog) -> None:
    """"and for Principal?" after Senior ML Engineer: the ML track has no principal
    blueprint. It used to match nothing, and the follow-up was silently answered about
    Senior ML Engineer again; now the plan names the missing title (the gateway then says
    there is no blueprint for it and lists the roles it knows)."""
    plan = plan_query(_turns("What are the 60-day goals for a Senior ML Engineer?", "and for Principal?"), catalog)
    assert plan.unknown_role == "Principal ML Engineer"
    staff = plan_query(_turns("What are the 60-day goals for a Staff Backend Engineer?", "what about senior?"), catalog)
    assert staff.unknown_role == "Senior Backend Engineer"
    # Within a track that has the level, the swap resolves as before.
    applied = plan_query(_turns("What are the 60-day goals for a Senior Applied AI Engineer?", "and for Principal?"),
                         catalog)
    assert applied.roles == ["principal-applied-ai-engineer"] and applied.unknown_role is None
    # A level word that is not a role swap is left alone.
    mentor = plan_query(_turns("What are the 60-day goals for a Senior ML Engineer?", "do they mentor senior engineers?"),
                        catalog)
    assert mentor.unknown_role is None and mentor.roles == ["senior-ml-engineer"]


def test_section_words_for_bm25_do_not_cost_a_second_embedding(catalog: RoleCatalog) -> None:
    # The input guards embed the question as asked; the dense side reuses that vector unless
    # the plan rewrote the text in a way that embeds better (role summary, career moves).
    for question in ("What should a Staff Data Engineer do in the first 30 days?",
                     "What does a Staff Data Engineer need approval for?",
                     "What are the biggest risks in the Principal Applied AI Engineer role?"):
        plan = plan_query(_turns(question), catalog)
        assert plan.query != question and plan.vector_text == question
    summary = plan_query(_turns("In a nutshell, what is a Staff Applied AI Engineer?"), catalog)
    assert summary.vector_text.startswith("role summary")


def test_asking_about_external_stakeholders_does_not_add_internal(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns("Who are the external stakeholders of a Staff Data Engineer?"), catalog)
    assert "internal" not in plan.query


@pytest.mark.parametrize(
    "question",
    ["What should I learn to move from senior ML engineer to staff?",
     "How do I get from Senior Applied AI Engineer to staff?",
     "What does a Staff Backend Engineer need to reach principal?"],
)
def test_moving_up_a_level_is_a_promotion_question(catalog: RoleCatalog, question: str) -> None:
    # Matched on the question as asked: without the role's name, "move from senior ML
    # engineer to staff" is "move from to staff".
    assert "skills needed for promotion" in plan_query(_turns(question), catalog).query


def test_comparing_two_levels_of_a_track_filters_on_both_and_asks_what_the_next_adds(
    catalog: RoleCatalog,
) -> None:
    plan = plan_query(_turns("What is the difference between a Staff and a Principal Applied AI Engineer?"), catalog)
    assert sorted(plan.roles) == ["principal-applied-ai-engineer", "staff-applied-ai-engineer"]
    assert plan.query.startswith("skills needed for promotion")
    # A track without the other level: the named role's own promotion section answers, and
    # no role of another track joins the filter.
    backend = plan_query(_turns("How does a Staff Backend Engineer differ from a principal?"), catalog)
    assert backend.roles == ["staff-backend-engineer"] and "skills needed for promotion" in backend.query
    # Comparing one part of two roles is not a question about the levels as a whole.
    part = plan_query(_turns("How does the coding exercise for Staff Applied AI Engineer candidates compare "
                             "with the one for Senior Applied AI Engineer candidates?"), catalog)
    assert "promotion" not in part.query
    assert sorted(part.roles) == ["senior-applied-ai-engineer", "staff-applied-ai-engineer"]
    # A caller's explicit role filter stays exactly what the caller asked for.
    explicit = plan_query(_turns("What is the difference between a Staff and a Principal Applied AI Engineer?"),
                          catalog, "principal-applied-ai-engineer")
    assert explicit.roles == ["principal-applied-ai-engineer"]


def test_same_family_levels_never_crosses_into_another_track(catalog: RoleCatalog) -> None:
    text = "the difference between a Staff and a Senior Principal Applied AI Engineer"
    assert sorted(catalog.same_family_levels(text, "principal-applied-ai-engineer")) == [
        "senior-applied-ai-engineer", "staff-applied-ai-engineer"]
    # The backend track has no principal blueprint; the applied AI principal is not offered.
    assert catalog.same_family_levels("a Staff Backend Engineer vs a principal", "staff-backend-engineer") == []
    assert catalog.same_family_levels("anything senior", "no-such-role") == []


def _conversation(*turns: tuple[str, str]) -> list[dict[str, str]]:
    """(user, assistant) pairs; the last pair's assistant text is ignored."""
    messages: list[dict[str, str]] = []
    for user, assistant in turns:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return messages[:-1]


def test_a_conversation_keeps_its_role_through_pronouns(catalog: RoleCatalog) -> None:
    messages = _conversation(
        ("Tell me about the Staff Backend Engineer role", "..."),
        ("What tools do they use?", "..."),
        ("Who do they report to?", ""),
    )
    plan = plan_query(messages, catalog)
    # The role named two turns back; the question about the person in it stands alone,
    # so the previous question's subject (tools) stays out of the query.
    assert plan.roles == ["staff-backend-engineer"]
    assert "report" in plan.query and "tools" not in plan.query
    # A reference to the previous answer's subject still folds the previous question in.
    follow = plan_query(_conversation((("What is the regretted attrition target for an Engineering Manager, "
                                       "Applied AI?"), "..."), ("How often is that reviewed?", "")), catalog)
    assert "attrition" in follow.query and follow.roles == ["engineering-manager-applied-ai"]


@pytest.mark.parametrize(
    ("answer", "ordinal", "item"),
    [(("Top KPIs: Deployment lead time, pipeline reliability, registry coverage, cost per 1,000 "
      "inferences and golden-path adoption. [2]"), "the last one", "golden-path adoption"),
     ("Top KPIs: Deployment lead time, pipeline reliability, registry coverage. [2]", "the second one",
      "pipeline reliability"),
     (("- Team onboarding time (Time for a new team to deploy): the example target is Under 2 weeks. [1]\n"
      "- Reproducible runs (Share of pinned runs): the example target is 95%. [1]"), "the 2nd KPI", "Reproducible runs"),
     ("Top 10 soft skills: 1) Influence without authority 2) Systems thinking 3) Negotiation 4) Ownership. [1]",
      "the third one", "Negotiation")],
)
def test_an_ordinal_names_what_the_last_list_put_there(
    catalog: RoleCatalog, answer: str, ordinal: str, item: str
) -> None:
    messages = _conversation(("What KPIs does an MLOps Engineer have?", answer),
                             (f"What is the target for {ordinal}?", ""))
    plan = plan_query(messages, catalog)
    assert item in plan.focus and ordinal not in plan.focus
    assert plan.roles == ["mlops-engineer"]


def test_an_ordinal_after_a_single_row_answer_uses_the_list_before_it(catalog: RoleCatalog) -> None:
    row = ("Pipeline reliability (Share of training and deployment pipeline runs that succeed): the example "
           "target is 98% or more, tracked Weekly; why it matters: unreliable pipelines erode trust. [1]")
    messages = _conversation(
        ("What KPIs does an MLOps Engineer have?", "Top KPIs: Deployment lead time, pipeline reliability, MTTR. [1]"),
        ("What is the target for the second one?", row),
        ("and the last one?", ""),
    )
    assert "MTTR" in plan_query(messages, catalog).query
    # With no list anywhere, the words are left as they are.
    alone = plan_query(_conversation(("What is the KPI for pipeline reliability?", row),
                                     ("and the last one?", "")), catalog)
    assert "last one" in alone.query


def test_becoming_a_bare_level_is_a_promotion_but_becoming_a_named_role_is_its_skills(catalog: RoleCatalog) -> None:
    level = plan_query(_turns("I'm a senior ML engineer. What should I focus on to become staff?"), catalog)
    assert "skills needed for promotion" in level.query and level.roles == ["senior-ml-engineer"]
    named = plan_query(_turns("What skills do I need to become a Staff Applied AI Engineer?"), catalog)
    assert "promotion" not in named.query and "must-have technical skills" in named.query


def test_a_question_about_any_role_with_no_role_anywhere_needs_one(catalog: RoleCatalog) -> None:
    for question in ("What are the KPIs?", "What are the 30-day goals?", "Which skills matter most?"):
        assert plan_query(_turns(question), catalog).needs_role, question
    # A role named, given as a filter, or set earlier in the conversation: no question.
    assert not plan_query(_turns("What are the KPIs of an MLOps Engineer?"), catalog).needs_role
    assert not plan_query(_turns("What are the KPIs?"), catalog, "mlops-engineer").needs_role
    assert not plan_query(_turns("Tell me about the MLOps Engineer role", "What are the KPIs?"), catalog).needs_role
    # A question about something specific is answered from wherever it is.
    assert not plan_query(_turns("What availability should an AI endpoint reach?"), catalog).needs_role


def test_a_conversation_that_never_named_a_role_asks_which_one(catalog: RoleCatalog) -> None:
    # "hi" (refused as out of scope), then a question every blueprint answers its own way.
    plan = plan_query(_turns("hi", "What are the KPIs?"), catalog)
    assert plan.needs_role and not plan.follow_up and plan.roles == []
    # A turn that points back at the last one is still a follow-up, not a new question.
    back = plan_query(_turns("What availability should an AI endpoint reach?", "and what are the KPIs?"), catalog)
    assert back.follow_up and not back.needs_role
    # A role from an earlier turn, or given as a filter, answers it.
    assert not plan_query(_turns("hi", "What are the KPIs?"), catalog, "mlops-engineer").needs_role
    assert not plan_query(_turns("Tell me about MLOps Engineers", "thanks", "What are the KPIs?"), catalog).needs_role


@pytest.mark.parametrize("question", [
    "What does it take to become a Principal Applied AI Engineer?",
    "What do I need to know to become a Staff Data Engineer?",
    "What should I learn to become an AI Platform Lead?",
    "How can I become an MLOps Engineer?",
])
def test_what_it_takes_to_become_a_role_asks_for_its_must_have_skills(catalog: RoleCatalog, question: str) -> None:
    plan = plan_query(_turns(question), catalog)
    assert "must-have technical skills" in plan.query and len(plan.roles) == 1, plan


def test_how_performance_is_measured_asks_for_the_kpis(catalog: RoleCatalog) -> None:
    reviewed = plan_query(_turns("How is a Senior ML Engineer's performance reviewed?"), catalog)
    assert "what high performance looks like" in reviewed.query and reviewed.roles == ["senior-ml-engineer"]
    measured = plan_query(_turns("How are Staff Backend Engineers measured?"), catalog)
    assert "KPIs and productivity metrics" in measured.query and measured.roles == ["staff-backend-engineer"]
    # How a candidate is assessed in hiring is another question.
    hiring = plan_query(_turns("How is a candidate for Staff Data Engineer evaluated in the interview?"), catalog)
    assert "KPIs" not in hiring.query


def test_two_roles_compared_as_a_whole_ask_for_their_summaries(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns("Compare the Staff Data Engineer and the Staff Backend Engineer"), catalog)
    assert sorted(plan.roles) == ["staff-backend-engineer", "staff-data-engineer"]
    # Only the section words: the names are filters, and they (or "vs") matched passages
    # that list roles or compare company types.
    assert plan.query.startswith("role summary") and "engineer" not in plan.query.lower()
    assert "compare" in plan.focus
    vs = plan_query(_turns("Staff Data Engineer vs MLOps Engineer"), catalog)
    assert "vs" not in vs.query and sorted(vs.roles) == ["mlops-engineer", "staff-data-engineer"]


@pytest.mark.parametrize("question", [
    "What is expected of a Senior Applied AI Engineer in incident response?",
    "Is an MLOps Engineer on call?",
    "What does a Staff Data Engineer do during an incident?",
    "How does an AI Platform Lead handle outages?",
])
def test_incident_questions_reach_the_incident_section(catalog: RoleCatalog, question: str) -> None:
    assert "incident escalation emergency work" in plan_query(_turns(question), catalog).query


def test_a_kpi_about_incidents_is_not_an_incident_work_question(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns("How fast should a Staff Data Engineer detect data incidents?"), catalog)
    assert "emergency" not in plan.query


def test_can_x_do_it_alone_asks_both_what_x_decides_and_what_needs_approval(catalog: RoleCatalog) -> None:
    # The thing asked about sits in one of the two lists; asking only the first missed promotions,
    # which need a director's approval.
    plan = plan_query(_turns("Can an Engineering Manager, Applied AI decide promotions by themselves?"), catalog)
    assert "can decide independently" in plan.query and "requires approval" in plan.query
    # Asking what X decides alone is only that list.
    listed = plan_query(_turns("What decisions can a Staff Backend Engineer make on their own?"), catalog)
    assert "can decide independently" in listed.query and "requires approval" not in listed.query


@pytest.mark.parametrize(("text", "roles"), [
    ("What does a data engineer do?", ["staff-data-engineer"]),
    ("Who does the engineering manager report to?", ["engineering-manager-applied-ai"]),
    ("Which tools do ML engineers use?", ["senior-ml-engineer"]),
    ("Engineering manager vs Staff Applied AI Engineer", ["staff-applied-ai-engineer", "engineering-manager-applied-ai"]),
    # Another level's title is another role, which has no blueprint.
    ("What does a principal data engineer do?", []),
    ("What does a senior backend engineer own?", []),
    # Three levels share "applied AI engineer": which one is not said.
    ("What does an applied AI engineer do?", []),
    # A short name is two words: "the AI platform team" is not the AI Platform Lead.
    ("How does an MLOps Engineer work with the AI platform team?", ["mlops-engineer"]),
])
def test_a_role_is_named_by_the_short_name_only_it_has(catalog: RoleCatalog, text: str, roles: list[str]) -> None:
    assert catalog.mentioned(text) == roles


def test_a_short_name_leaves_the_query_like_a_full_one(catalog: RoleCatalog) -> None:
    assert catalog.strip_mentions("What do data engineers own?") == "What do own?"
    assert catalog.strip_mentions("What does the Engineering Manager's team do?") == "What does the team do?"
    # Not when it is the tail of another role's title.
    assert catalog.strip_mentions("What does a principal data engineer do?") == "What does a principal data engineer do?"


def test_a_role_called_by_its_short_name_carries_through_the_conversation(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns("Who does a data engineer work with?", "What tools do they use?"), catalog)
    assert plan.roles == ["staff-data-engineer"]


@pytest.mark.parametrize(("question", "title", "nearest"), [
    ("I'm a senior backend engineer. What should I work on to get promoted?", "Senior Backend Engineer",
     "Staff Backend Engineer"),
    ("What does a principal data engineer do?", "Principal Data Engineer", "Staff Data Engineer"),
    ("What are the KPIs of a Staff ML Engineer?", "Staff ML Engineer", "Senior ML Engineer"),
])
def test_a_known_role_at_another_level_is_an_unknown_title(
    catalog: RoleCatalog, question: str, title: str, nearest: str
) -> None:
    plan = plan_query(_turns(question), catalog)
    assert plan.roles == [] and plan.unknown_role == title
    assert catalog.nearest(title) == nearest


@pytest.mark.parametrize(("question", "words"), [
    ("What happens in the first week for a new MLOps engineer?", "30-day goals"),
    ("What should a Staff Data Engineer do in the first two weeks?", "30-day goals"),
    ("How should a Staff Applied AI Engineer communicate with executives?", "stakeholder communication soft skills"),
])
def test_first_weeks_and_communication_reach_their_sections(catalog: RoleCatalog, question: str, words: str) -> None:
    assert words in plan_query(_turns(question), catalog).query


@pytest.mark.parametrize(("question", "words"), [
    ("What should a new Staff Backend Engineer focus on first?", "30-day goals"),
    ("What does an MLOps Engineer do when they start?", "30-day goals"),
    ("What is the team size of an Engineering Manager?", "scale complexity context"),
    ("How many direct reports does an Engineering Manager have?", "scale complexity context"),
])
def test_first_priorities_and_team_size_reach_their_sections(catalog: RoleCatalog, question: str, words: str) -> None:
    assert words in plan_query(_turns(question), catalog).query


def test_a_follow_up_turning_to_another_part_is_a_new_question_about_the_role(catalog: RoleCatalog) -> None:
    # "And what tools does it use for serving?" after the risks had answered with the risks again.
    plan = plan_query(_turns("Tell me about the AI Platform Lead role", "What are its main risks?",
                             "And what tools does it use for serving?"), catalog)
    assert plan.roles == ["ai-platform-lead"] and "risk" not in plan.query.lower() and "tools" in plan.query
    kpis = plan_query(_turns("What are the 30-day goals of a Staff Data Engineer?", "and what are the KPIs?"), catalog)
    assert kpis.roles == ["staff-data-engineer"] and "30-day" not in kpis.query and "goals" not in kpis.focus
    # A single thing of the earlier subject still needs it.
    target = plan_query(_turns("What is the inference availability KPI for a Staff Applied AI Engineer?",
                               "What is the target?"), catalog)
    assert "availability" in target.query


def test_a_follow_up_of_a_follow_up_keeps_the_first_subject(catalog: RoleCatalog) -> None:
    plan = plan_query(_turns("What is the inference availability KPI for a Staff Applied AI Engineer?",
                             "What is the target?", "and the frequency?"), catalog)
    assert "availability" in plan.query and plan.roles == ["staff-applied-ai-engineer"]


def _with_answer(question: str, answer: str, follow_up: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer},
            {"role": "user", "content": follow_up}]


def test_the_x_one_names_the_role_of_the_last_answer_whose_title_says_x(catalog: RoleCatalog) -> None:
    answer = "Staff Applied AI Engineer, Staff Backend Engineer and MLOps Engineer are common next steps."
    plan = plan_query(_with_answer("Where can a Senior ML Engineer go next?", answer,
                                   "What KPIs does the backend one own?"), catalog)
    assert plan.roles == ["staff-backend-engineer"]
    # "the staff one" fits two of them: left as it was, so no role is guessed from it.
    ambiguous = plan_query(_with_answer("Where can a Senior ML Engineer go next?", answer,
                                        "What KPIs does the staff one own?"), catalog)
    assert "the staff one" in ambiguous.query
    assert not {"staff-backend-engineer", "staff-applied-ai-engineer"} & set(ambiguous.roles)
