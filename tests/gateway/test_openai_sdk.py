"""The OpenAI-compatible chat API through the official ``openai`` SDK, as an integrator
would call it: ``OpenAI(base_url=".../v1", api_key=...)``."""

from __future__ import annotations

import re
from typing import Any

import httpx
import openai
import pytest

from tests.gateway.conftest import ALIASES, Gateway

pytestmark = pytest.mark.integration

AVAILABILITY = "What is the target for inference availability for a Staff Applied AI Engineer?"
MARKER = re.compile(r"\[(\d{1,3})\]")
STAFF_KPIS = "staff-applied-ai-engineer/kpis-and-productivity-metrics"


def _ask(sdk: Any, content: str, **kwargs: Any) -> Any:
    return sdk.chat.completions.create(
        model=kwargs.pop("model", "ladder-extractive"), messages=[{"role": "user", "content": content}], **kwargs
    )


def _check_citations(text: str, citations: list[dict[str, Any]]) -> None:
    """Every [n] in the text has a citation with marker n, and every citation is used."""
    used = {int(n) for n in MARKER.findall(text)}
    assert used, f"no citation marker in {text!r}"
    assert {c["marker"] for c in citations} == used
    for citation in citations:
        assert citation["chunk_id"] and citation["document"] and citation["section_path"]
        assert citation["quote"].strip()


def test_non_streaming_answer_is_grounded_and_cited(sdk: Any) -> None:
    response = _ask(sdk, AVAILABILITY)
    choice = response.choices[0]
    text = choice.message.content
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert response.object == "chat.completion"
    assert response.model == "ladder-extractive"
    assert "99.9%" in text
    citations = response.model_extra["citations"]
    _check_citations(text, citations)
    cited = next(c for c in citations if c["section_id"] == STAFF_KPIS)
    assert "Inference availability" in cited["quote"] and "99.9%" in cited["quote"]
    assert response.model_extra["provider"] == "extractive"
    assert response.model_extra["refused"] is False
    assert re.fullmatch(r"[0-9a-f]{32}", response.model_extra["trace_id"])
    assert response.id == f"chatcmpl-{response.model_extra['trace_id']}"
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streaming_arrives_in_chunks_and_matches_the_whole_answer(sdk: Any) -> None:
    whole = _ask(sdk, AVAILABILITY).choices[0].message.content
    chunks = list(_ask(sdk, AVAILABILITY, stream=True))
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) >= 5, f"the answer came in {len(content)} pieces"
    streamed = "".join(content)
    assert streamed == whole
    assert chunks[0].choices[0].delta.role == "assistant"
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    # Without include_usage no usage chunk is sent (as with OpenAI).
    assert all(c.usage is None for c in chunks)
    _check_citations(streamed, final.model_extra["citations"])
    assert all(c.object == "chat.completion.chunk" and c.id == final.id for c in chunks)


def test_streaming_with_include_usage_ends_with_a_usage_chunk(sdk: Any) -> None:
    chunks = list(_ask(sdk, AVAILABILITY, stream=True, stream_options={"include_usage": True}))
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens > 0 and usage_chunk.usage.completion_tokens > 0
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_ends_with_done_on_the_wire(gateway: Gateway, api_key: str) -> None:
    body = {"model": "ladder-extractive", "stream": True, "messages": [{"role": "user", "content": AVAILABILITY}]}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=60,
                      headers={"authorization": f"Bearer {api_key}"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    assert events.count("data: [DONE]") == 1
    assert not any('"error"' in line for line in events)


def test_follow_up_turn_answers_about_the_newly_named_role(sdk: Any) -> None:
    first = _ask(sdk, AVAILABILITY)
    history = [
        {"role": "user", "content": AVAILABILITY},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "and for the AI Platform Lead?"},
    ]
    follow = sdk.chat.completions.create(model="ladder-extractive", messages=history)
    text = follow.choices[0].message.content
    citations = follow.model_extra["citations"]
    assert follow.model_extra["refused"] is False, text
    _check_citations(text, citations)
    assert {c["role"] for c in citations} == {"ai-platform-lead"}, citations
    assert "99.9%" in text


def test_a_follow_up_can_point_at_an_item_of_the_listed_answer(sdk: Any, http: httpx.Client) -> None:
    """"What is the target for the second one?" after a list of KPIs: the answer states the
    target of the KPI the list put second (and "and the last one?" the last one's)."""
    question = "What KPIs does an MLOps Engineer have?"
    listed = _ask(sdk, question).choices[0].message.content
    # The list as a reader sees it: the comma-separated names after the label.
    names = [n.strip() for n in MARKER.sub("", listed).split(": ", 1)[1].rstrip(". ").split(", ")]
    assert len(names) >= 3, listed
    rows = http.get("/v1/roles/mlops-engineer/kpis").json()["data"]

    def target_of(name: str) -> str:
        # The summary shortens some names ("Deployment lead time" for the row "Model
        # deployment lead time"): the row whose name contains the listed one.
        return next(r["target"] for r in rows if name.lower() in r["name"].lower())

    history = [{"role": "user", "content": question}, {"role": "assistant", "content": listed}]
    for ordinal, name in (("the second one", names[1]), ("the last one", names[-1])):
        history.append({"role": "user", "content": f"What is the target for {ordinal}?"})
        reply = sdk.chat.completions.create(model="ladder-extractive", messages=history)
        text = reply.choices[0].message.content
        assert target_of(name) in text.split(" [", 1)[0], (ordinal, name, text)
        history.append({"role": "assistant", "content": text})


def test_models_list_shows_every_alias(sdk: Any) -> None:
    models = sdk.models.list()
    ids = {m.id for m in models}
    assert ids == ALIASES
    default = [m for m in models.data if m.model_extra.get("default")]
    assert [m.id for m in default] == ["ladder-extractive"]


def test_unknown_model_is_not_found(sdk: Any) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _ask(sdk, AVAILABILITY, model="gpt-nonexistent")
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"
    assert info.value.param == "model"


def test_bad_key_is_an_authentication_error(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="lk_000000000000_" + "x" * 43, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        _ask(client, AVAILABILITY)
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"


def test_dev_mode_takes_a_placeholder_key_as_no_key(dev_gateway: Gateway) -> None:
    """The README's SDK example against ``ladder serve --dev``: the SDK will not start without
    an api_key, so users pass a placeholder; it must work like sending no key at all."""
    client = openai.OpenAI(base_url=f"{dev_gateway.url}/v1", api_key="dev", max_retries=0)
    response = _ask(client, AVAILABILITY)
    assert "99.9" in response.choices[0].message.content
    _check_citations(response.choices[0].message.content, response.model_extra["citations"])
    streamed = "".join(c.choices[0].delta.content or "" for c in _ask(client, AVAILABILITY, stream=True) if c.choices)
    assert streamed == response.choices[0].message.content
    anonymous = httpx.get(f"{dev_gateway.url}/v1/models", timeout=30)
    assert anonymous.status_code == 200
    assert [m.id for m in client.models.list()] == [m["id"] for m in anonymous.json()["data"]]
    # Something meant as a ladder key is still verified: a mistyped or revoked one is refused,
    # not quietly served as anonymous.
    for bad in ("lk_000000000000_" + "x" * 43, "lk_typo"):
        mistyped = openai.OpenAI(base_url=f"{dev_gateway.url}/v1", api_key=bad, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            _ask(mistyped, AVAILABILITY)
        assert info.value.code == "invalid_api_key"
    # The admin scope stays out of reach of the anonymous principal, placeholder or not.
    admin = httpx.post(f"{dev_gateway.url}/v1/admin/reload", headers={"authorization": "Bearer dev"}, timeout=30)
    assert admin.status_code == 403, admin.text


def test_missing_scope_is_permission_denied(gateway: Gateway) -> None:
    key = gateway.create_key("sdk-answers-only", "answers")
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as info:
        _ask(client, AVAILABILITY)
    assert info.value.code == "insufficient_scope"
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()


@pytest.mark.parametrize(
    "messages",
    [[], [{"role": "user", "content": "   "}], [{"role": "assistant", "content": "hello"}]],
    ids=["no-messages", "blank-user-message", "no-user-turn"],
)
def test_invalid_messages_are_bad_requests(sdk: Any, messages: list[dict[str, str]]) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(model="ladder-extractive", messages=messages)
    assert info.value.status_code == 400
    assert info.value.param == "messages"


@pytest.mark.parametrize(
    ("extra", "param", "says"),
    [({"n": 3}, "n", "only n=1"),
     ({"tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]},
      "tools", "tool calling is not supported")],
    ids=["three-choices", "tools"],
)
def test_what_ladder_cannot_honour_is_a_bad_request(sdk: Any, extra: dict[str, Any], param: str, says: str) -> None:
    """Asked for three choices or a function call, a client must hear so, not get one plain
    answer as if that were what it asked for."""
    with pytest.raises(openai.BadRequestError) as info:
        _ask(sdk, AVAILABILITY, **extra)
    assert info.value.param == param
    assert says in info.value.message
    assert _ask(sdk, AVAILABILITY, n=1).choices[0].message.content  # n=1 is what ladder does


def test_off_topic_question_is_refused_in_a_stream_too(sdk: Any) -> None:
    question = "What is the best topping for a pizza?"
    whole = _ask(sdk, question)
    chunks = list(_ask(sdk, question, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert whole.model_extra["refused"] is True
    assert whole.model_extra["citations"] == []
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    assert chunks[-1].model_extra["refused"] is True


def test_an_abstention_reads_the_same_streamed_or_not(sdk: Any) -> None:
    # The blueprints say nothing about pay: the answer must abstain either way, in the same words.
    question = "What is the salary of a Staff Applied AI Engineer in Paris?"
    plain = _ask(sdk, question)
    assert plain.model_extra["refused"] is True
    assert plain.model_extra["refusal_code"] == "no_evidence"
    streamed = "".join(
        chunk.choices[0].delta.content or "" for chunk in _ask(sdk, question, stream=True) if chunk.choices
    )
    assert streamed == plain.choices[0].message.content
