"""Moving prompt labels over HTTP: ``POST /v1/prompts/{name}/labels/{label}``.

Against the session gateway, which other modules share: only the custom label
``staging`` is ever moved; ``production`` and ``candidate`` are checked unchanged
after every test. Moving ``production`` runs the whole golden set (the release
gate), far too slow for the suite, so only its refusals that come before the gate
runs are exercised here. Expected versions come from the template files and
LOCK.json, the initial labels from prompts/labels.default.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.clients import key_id
from tests.gateway.conftest import Gateway, assert_error

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
PROMPT = "rag_answer"
LABEL = "staging"


def _released_versions() -> list[str]:
    lock = json.loads((PROJECT / "prompts" / "templates" / "LOCK.json").read_text(encoding="utf-8"))
    files = {p.stem for p in (PROJECT / "prompts" / "templates" / PROMPT).glob("*.yaml")}
    released = [ref.split("@", 1)[1] for ref in lock["released"] if ref.startswith(f"{PROMPT}@")]
    return sorted((v for v in released if v in files), key=lambda v: tuple(int(x) for x in v.split(".")))


RELEASED = _released_versions()
SHIPPED_LABELS = json.loads((PROJECT / "prompts" / "labels.default.json").read_text(encoding="utf-8"))[PROMPT]


@pytest.fixture(scope="module")
def writer(gateway: Gateway) -> str:
    return gateway.create_key("prompts-writer", "prompts:write", rpm=100_000)


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> str:
    return gateway.create_key("prompts-admin", "admin", rpm=100_000)


@pytest.fixture(autouse=True)
def served_labels_unchanged(gateway: Gateway, http: httpx.Client) -> Iterator[None]:
    """No test here may move what the other modules rely on."""
    def gated() -> dict[str, str | None]:
        labels = http.get(f"/v1/prompts/{PROMPT}").json()["labels"]
        return {name: labels.get(name) for name in ("production", "candidate")}

    before = gated()
    yield
    assert gated() == before


def move(gateway: Gateway, key: str, body: dict[str, Any], *, label: str = LABEL, name: str = PROMPT) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/prompts/{name}/labels/{label}", json=body,
                      headers={"authorization": f"Bearer {key}"}, timeout=60)


def registry_bytes(gateway: Gateway) -> bytes:
    return gateway.settings.prompt_registry_file.read_bytes()


def test_shipped_versions_are_released() -> None:
    # The moves below need two released versions; the labels start as shipped.
    assert len(RELEASED) >= 2, RELEASED
    assert set(SHIPPED_LABELS.values()) <= set(RELEASED)


def test_labels_start_as_shipped(http: httpx.Client) -> None:
    labels = http.get(f"/v1/prompts/{PROMPT}").json()["labels"]
    for name, version in SHIPPED_LABELS.items():
        assert labels[name] == version


def test_move_custom_label_with_prompts_write_then_admin(gateway: Gateway, http: httpx.Client, writer: str,
                                                         admin: str) -> None:
    first, second = RELEASED[0], RELEASED[-1]
    response = move(gateway, writer, {"version": first, "reason": "QA sign-off"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == PROMPT and body["label"] == LABEL
    assert body["labels"][LABEL] == first
    entry = body["entry"]
    assert (entry["action"], entry["label"], entry["to"], entry["reason"]) == ("move", LABEL, first, "QA sign-off")
    assert entry["actor"] == f"key:{key_id(writer)}"

    detail = http.get(f"/v1/prompts/{PROMPT}").json()
    assert detail["labels"][LABEL] == first
    assert detail["history"][-1] == entry
    listing = http.get("/v1/prompts").json()
    assert next(p for p in listing["data"] if p["name"] == PROMPT)["labels"][LABEL] == first

    # An admin key may move it too; the history records where it came from.
    response = move(gateway, admin, {"version": second})
    assert response.status_code == 200, response.text
    entry2 = response.json()["entry"]
    assert (entry2["from"], entry2["to"], entry2["actor"]) == (first, second, f"key:{key_id(admin)}")
    assert entry2["seq"] == entry["seq"] + 1

    detail = http.get(f"/v1/prompts/{PROMPT}").json()
    assert detail["labels"][LABEL] == second
    moves = [h for h in detail["history"] if h["label"] == LABEL]
    assert moves[-2:] == [entry, entry2]

    # The registry file on disk says the same, read as plain JSON.
    document = json.loads(registry_bytes(gateway))
    assert document["prompts"][PROMPT]["labels"][LABEL] == second
    assert document["prompts"][PROMPT]["history"][-1]["to"] == second


def test_label_history_is_filtered_per_label_in_order(gateway: Gateway, http: httpx.Client, writer: str) -> None:
    for version in (RELEASED[-1], RELEASED[0]):
        assert move(gateway, writer, {"version": version}).status_code == 200
    history = http.get(f"/v1/prompts/{PROMPT}").json()["history"]
    assert [h["seq"] for h in history] == sorted(h["seq"] for h in history)
    assert [h["to"] for h in history if h["label"] == LABEL][-2:] == [RELEASED[-1], RELEASED[0]]


# --- refusals: the error shape, and the registry file left as it was ----------------------------

@pytest.mark.parametrize(
    ("label", "name", "body", "status", "code"),
    [
        (LABEL, PROMPT, {"version": "9.9.9"}, 404, "prompt_not_found"),
        (LABEL, PROMPT, {"version": "latest"}, 404, "prompt_not_found"),
        (LABEL, "no-such-prompt", {"version": "1.0.0"}, 404, "prompt_not_found"),
        ("production", PROMPT, {"version": "9.9.9"}, 404, "prompt_not_found"),
        ("production", PROMPT, {"version": "9.9.9", "force": True, "reason": "x"}, 404, "prompt_not_found"),
        ("Staging", PROMPT, {"version": "1.0.0"}, 400, "invalid_label"),
        (LABEL, PROMPT, {"version": "1.0.0", "colour": "blue"}, 400, "invalid_request"),
        (LABEL, PROMPT, {}, 400, "invalid_request"),
    ],
    ids=["unknown-version", "not-a-version", "unknown-prompt", "production-unknown-version",
         "production-forced-unknown-version", "bad-label", "unknown-field", "no-version"],
)
def test_bad_move_is_refused_and_changes_nothing(
    gateway: Gateway, writer: str, label: str, name: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = registry_bytes(gateway)
    assert_error(move(gateway, writer, body, label=label, name=name), status, code)
    assert registry_bytes(gateway) == before


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_forced_production_move_without_reason_is_refused_before_the_gate(
    gateway: Gateway, writer: str, reason: str | None
) -> None:
    # A forced promotion must say why (it is recorded); the request is refused before the
    # golden gate runs, so this is fast and nothing is written.
    before = registry_bytes(gateway)
    body: dict[str, Any] = {"version": RELEASED[-1], "force": True}
    if reason is not None:
        body["reason"] = reason
    error = assert_error(move(gateway, writer, body, label="production"), 400)
    assert error["param"] == "reason" and "reason" in error["message"]
    assert registry_bytes(gateway) == before


def test_key_without_prompts_write_is_forbidden(gateway: Gateway, http: httpx.Client) -> None:
    # The session key holds chat, answers, search and roles: it may read labels, not move them.
    before = registry_bytes(gateway)
    assert_error(http.post(f"/v1/prompts/{PROMPT}/labels/{LABEL}", json={"version": RELEASED[0]}), 403)
    assert_error(http.post(f"/v1/prompts/{PROMPT}/labels/production",
                           json={"version": RELEASED[-1], "force": True, "reason": "x"}), 403)
    assert registry_bytes(gateway) == before


def test_anonymous_move_is_unauthorized(gateway: Gateway) -> None:
    before = registry_bytes(gateway)
    response = httpx.post(f"{gateway.url}/v1/prompts/{PROMPT}/labels/{LABEL}", json={"version": RELEASED[0]},
                          timeout=30)
    assert_error(response, 401)
    assert registry_bytes(gateway) == before
