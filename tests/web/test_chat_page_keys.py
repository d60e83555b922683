"""The chat page against a gateway that requires API keys (not dev mode), whose default
model streams from a local OpenAI-compatible upstream that can be told to fail."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import Gateway
from .test_chat_page import QUESTION, ask, wait_answer

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def save_key(page: Any, key: str) -> None:
    page.fill("#key-input", key)
    page.get_by_role("button", name="Save key").click()


def test_page_asks_for_a_key_stores_it_and_the_question_succeeds(keyed_page: Any, keyed_gateway: Gateway) -> None:
    page = keyed_page
    key = keyed_gateway.create_key("web-401-flow")
    page.goto("/")
    dialog = page.locator("#key-dialog")
    # Loading the role list got a 401: the page asks at once.
    page.wait_for_function("() => document.getElementById('key-dialog').open")
    assert "needs an API key" in page.locator("#key-reason").inner_text()
    page.keyboard.press("Escape")
    assert not dialog.evaluate("d => d.open")

    ask(page, QUESTION)
    answer = wait_answer(page, "auth")
    assert "An API key is needed" in answer.inner_text()
    assert dialog.evaluate("d => d.open")
    assert page.evaluate("document.activeElement.id") == "key-input"

    save_key(page, key)
    answer = wait_answer(page, "done")  # the stopped question re-runs with the key
    assert answer.locator(".answer").inner_text().strip()
    assert page.evaluate("localStorage.getItem('ladder.apiKey')") == key
    assert page.locator("#role option").count() > 1  # roles reloaded with the key

    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#role option').length > 1")
    assert not dialog.evaluate("d => d.open")


def test_a_rejected_saved_key_can_be_replaced(keyed_page: Any, keyed_gateway: Gateway) -> None:
    page = keyed_page
    good = keyed_gateway.create_key("web-replace")
    page.goto("/")
    page.wait_for_function("() => document.getElementById('key-dialog').open")
    save_key(page, "lk_000000000000_" + "x" * 43)  # well-formed, unknown
    page.wait_for_function("() => document.getElementById('key-dialog').open")
    assert "saved API key was not accepted" in page.locator("#key-reason").inner_text()
    save_key(page, good)
    page.wait_for_function("() => document.querySelectorAll('#role option').length > 1")
    assert page.evaluate("localStorage.getItem('ladder.apiKey')") == good


def test_rate_limit_shows_the_wait_with_a_countdown(keyed_page: Any, keyed_gateway: Gateway) -> None:
    page = keyed_page
    key = keyed_gateway.create_key("web-rpm-1", rpm=1)
    page.add_init_script(f"localStorage.setItem('ladder.apiKey', {key!r})")
    page.goto("/")
    ask(page, QUESTION)
    wait_answer(page, "done")
    ask(page, "Which skills does an MLOps Engineer need?")
    answer = wait_answer(page, "rate-limited")

    first = int(re.search(r"try again in (\d+) s", answer.inner_text()).group(1))
    assert 1 <= first <= 60
    retry = answer.get_by_role("button", name="Retry")
    assert retry.is_disabled()
    page.wait_for_function(
        "([a, n]) => { const m = /try again in (\\d+) s/.exec(a.textContent); return m && Number(m[1]) < n; }",
        arg=[answer.element_handle(), first],
        timeout=5_000,
    )


def test_provider_failure_mid_stream_offers_retry(keyed_page: Any, keyed_gateway: Gateway) -> None:
    assert keyed_gateway.upstream is not None
    page = keyed_page
    key = keyed_gateway.create_key("web-provider-error")
    page.add_init_script(f"localStorage.setItem('ladder.apiKey', {key!r})")
    page.goto("/")
    keyed_gateway.upstream.control("reset_mid_stream", times=1)
    try:
        ask(page, "What are the 30-day goals of a Staff Applied AI Engineer?")
        answer = wait_answer(page, "error")
    finally:
        keyed_gateway.upstream.control("ok")
    assert "interrupted" in answer.locator(".notice.error").inner_text()

    answer.get_by_role("button", name="Retry").click()
    answer = wait_answer(page, "done")
    assert answer.locator(".answer").inner_text().strip()
    assert answer.locator(".notice").count() == 0
