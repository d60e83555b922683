"""How the page tells apart the ways an answer can end without one - a guard's refusal
(off topic), a block (an attack), no evidence in the blueprints - and the "copy answer"
button, in headless Chromium against the real dev gateway (tests/web/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import Gateway
from .test_chat_page import QUESTION, api_answer, ask, chat_requests, wait_answer

pytestmark = [pytest.mark.browser, pytest.mark.integration]

OFF_TOPIC = "What's the weather in Berlin tomorrow?"
UNANSWERABLE = "What is the salary of a Staff Applied AI Engineer in Paris?"
ENDINGS = ("done", "no-evidence", "refused", "blocked", "error")


def words(text: str) -> str:
    return " ".join(text.split())


def api_stream(gateway: Gateway, question: str) -> tuple[str, dict[str, Any]]:
    """The question streamed through the API without the page: (text of the deltas, final chunk)."""
    body = {"model": "ladder-extractive", "stream": True, "messages": [{"role": "user", "content": question}]}
    text, final = "", None
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=120) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choice = chunk["choices"][0]
            text += choice["delta"].get("content") or ""
            if choice["finish_reason"]:
                final = chunk
    assert final is not None, "the stream never finished"
    return text, final


def test_off_topic_question_shows_the_guards_reason_in_plain_words(dev_page: Any, dev_gateway: Gateway) -> None:
    reference = api_answer(dev_gateway, OFF_TOPIC)
    assert reference["refusal_code"] == "off_topic" and reference["blocked"] is False, reference
    page = dev_page
    sent = chat_requests(page)
    page.goto("/")
    ask(page, OFF_TOPIC)
    answer = wait_answer(page, *ENDINGS)

    assert answer.get_attribute("data-state") == "refused"
    notice = answer.locator(".notice.refused")
    assert notice.locator("strong").inner_text() == "I can't answer that"
    # The guard's own sentence, not a code and not the safety wording of a block.
    assert words(notice.locator("p").inner_text()) == words(reference["refusal_reason"])
    assert answer.locator(".notice.blocked").count() == 0
    assert answer.get_by_role("button", name="Copy answer").count() == 0  # nothing to copy
    # A refusal is not part of the conversation the next question carries.
    ask(page, QUESTION)
    wait_answer(page, "done")
    assert [m["content"] for m in sent[-1]["messages"]] == [QUESTION]


def test_unanswerable_question_shows_no_evidence_not_a_refusal(dev_page: Any, dev_gateway: Gateway) -> None:
    # The page streams, so the reference is the streamed answer (its abstention sentence may
    # be worded differently from the non-streamed one).
    streamed, final = api_stream(dev_gateway, UNANSWERABLE)
    assert final["refusal_code"] == "no_evidence" and final["refused"], final  # the blueprints name no salaries
    assert final["choices"][0]["finish_reason"] == "stop"
    page = dev_page
    page.goto("/")
    ask(page, UNANSWERABLE)
    answer = wait_answer(page, *ENDINGS)

    assert answer.get_attribute("data-state") == "no-evidence"
    assert answer.locator(".notice").count() == 0
    shown = answer.locator(".answer")
    assert shown.is_visible()
    assert words(shown.inner_text()) == words(streamed)
    assert shown.get_attribute("title") == "The role blueprints don't cover this, so there is no cited answer."


def test_copy_answer_puts_the_answer_and_its_sources_on_the_clipboard(dev_page: Any, dev_gateway: Gateway) -> None:
    page = dev_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dev_gateway.url)
    page.goto("/")
    ask(page, QUESTION)
    answer = wait_answer(page, "done")

    answer.get_by_role("button", name="Copy answer").click()
    page.wait_for_function(
        "a => a.querySelector('.actions .status').textContent === 'Copied.'", arg=answer.element_handle()
    )
    copied = page.evaluate("navigator.clipboard.readText()")

    reference = api_answer(dev_gateway, QUESTION)
    text = reference["choices"][0]["message"]["content"]
    cited = [c for c in reference["citations"] if f"[{c['marker']}]" in text]
    assert cited, "the reference answer cites nothing; the copy format cannot be checked"
    sources = [f"[{c['marker']}] {c['document']} — {c['section_path'].removeprefix(c['document'] + ' › ')}"
               for c in cited]
    assert copied == "\n".join([text.strip(), "", "Sources:", *sources])
