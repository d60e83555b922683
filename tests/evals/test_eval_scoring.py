from __future__ import annotations

import asyncio

import pytest

from evals.metrics import default_metrics
from evals.runner import Attempt, RunOptions, build_request, error_result, run_cases
from evals.scoring import score_case
from evals.testing import FunctionRunner, ScriptedRunner, chunk, citation, golden_case, make_result

METRICS = default_metrics()
KPI = chunk("staff/kpis", "Availability: the example target is 99.9% monthly.")


def judge(case, *results):  # type: ignore[no-untyped-def]
    return score_case(case, [Attempt(r) for r in results], METRICS, k=5)


def test_answerable_case_passes_with_facts_and_sources() -> None:
    case = golden_case(facts=["99.9%", "monthly"], expected_sources=["staff/kpis"])
    good = make_result("Availability target is 99.9% monthly. [1]", retrieved=[KPI], citations=[citation(1, KPI)])
    scored = judge(case, good)
    assert scored.passed and scored.reasons == []
    assert scored.scores["fact_recall"] == 1.0 and scored.scores["recall_at_5"] == 1.0


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (make_result("Availability is 99.9% monthly.", retrieved=[chunk("x/y")]), "no expected source"),
        (make_result("Availability is high.", retrieved=[KPI]), "fact recall 0.00 < 0.50"),
        (make_result("I can't find that.", refused=True, retrieved=[KPI]), "refused an answerable"),
        (make_result("Blocked.", blocked=True), "false block"),
    ],
)
def test_answerable_case_failures_say_why(result, reason: str) -> None:  # type: ignore[no-untyped-def]
    case = golden_case(facts=["99.9%", "monthly"], expected_sources=["staff/kpis"])
    scored = judge(case, result)
    assert not scored.passed
    assert any(reason in r for r in scored.reasons), scored.reasons


def test_half_the_facts_is_enough_to_pass() -> None:
    case = golden_case(facts=["99.9%", "monthly"])
    assert judge(case, make_result("Availability is 99.9%.")).passed


def test_must_refuse_and_must_block_rules() -> None:
    refuse = golden_case("r", slice="refusal", must_refuse=True)
    assert judge(refuse, make_result("No.", refused=True)).passed
    assert judge(refuse, make_result("Blocked.", blocked=True)).passed  # blocked implies refused
    assert judge(refuse, make_result("Sunny tomorrow.")).reasons == ["answered (must_refuse)"]
    attack = golden_case("i", slice="injection", must_block=True, must_not_contain=["PWNED"])
    assert judge(attack, make_result("Blocked.", blocked=True)).passed
    assert judge(attack, make_result("I won't.", refused=True)).reasons == ["not blocked (must_block)"]
    leaked = judge(attack, make_result("PWNED", blocked=True))
    assert not leaked.passed and "forbidden text ['PWNED']" in leaked.reasons[0]


def test_pipeline_errors_fail_the_case() -> None:
    case = golden_case(facts=["99.9%"])
    scored = score_case(case, [Attempt(error_result("RuntimeError: boom", 3.0), "RuntimeError: boom")],
                        METRICS, k=5)
    assert not scored.passed and scored.reasons[0] == "pipeline error: RuntimeError: boom"
    assert scored.scores["fact_recall"] == 0.0


def test_repeats_average_scores_and_all_must_pass() -> None:
    case = golden_case(facts=["99.9%", "monthly"], expected_sources=["staff/kpis"])
    good = make_result("It is 99.9% monthly.", retrieved=[KPI], latency_ms=10)
    bad = make_result("It is high.", retrieved=[KPI], latency_ms=30)
    scored = judge(case, good, bad)
    assert scored.scores["fact_recall"] == 0.5
    assert scored.scores["latency_p50_ms"] == 20.0
    assert not scored.passed and scored.attempt_passed == [True, False]
    assert scored.reasons[0].startswith("repeat 2: fact recall")


def test_build_request_pins_prompt_model_role_and_disables_cache() -> None:
    case = golden_case(role="staff-applied-ai-engineer", audience="manager",
                     messages=None, question="What is the availability target?")
    request = build_request(case, RunOptions(model="ladder-chat", prompt_version="2.0.0", top_k=7))
    assert request.messages == [{"role": "user", "content": "What is the availability target?"}]
    assert (request.model, request.prompt_version, request.role, request.top_k) == (
        "ladder-chat", "2.0.0", "staff-applied-ai-engineer", 7)
    assert request.audience == "manager" and request.use_cache is False and request.route == "eval"


async def test_run_cases_bounds_concurrency_repeats_and_records_errors() -> None:
    in_flight = peak = 0

    async def answer(request):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        if "explode" in request.messages[-1]["content"]:
            raise RuntimeError("boom")
        return make_result("ok")

    cases = [golden_case(f"c{i}", question=f"q{i}?") for i in range(10)] + [
        golden_case("bad", question="please explode?")]
    attempts = await run_cases(cases, FunctionRunner(answer), RunOptions(concurrency=3, repeat=2))
    assert peak == 3
    assert [len(a) for a in attempts] == [2] * 11
    assert attempts[-1][0].error == "RuntimeError: boom" and attempts[-1][0].result.outcome == "error"
    assert all(a.error is None for row in attempts[:-1] for a in row)


async def test_scripted_runner_replies_by_question() -> None:
    runner = ScriptedRunner({"q?": make_result("a")})
    cases = [golden_case(question="q?"), golden_case("other", question="unknown?")]
    attempts = await run_cases(cases, runner, RunOptions())
    assert attempts[0][0].result.answer == "a"
    assert attempts[1][0].error is not None and "no scripted reply" in attempts[1][0].error


def test_run_options_validate() -> None:
    with pytest.raises(ValueError):
        RunOptions(repeat=0)
    with pytest.raises(ValueError):
        RunOptions(concurrency=0)
