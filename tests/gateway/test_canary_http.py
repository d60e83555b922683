"""The prompt canary end to end: a gateway with ``prompts.canary_share`` set.

A server of its own (the session gateway has no canary), with the response cache
off so every request resolves its prompt. Which subjects must land in the canary
is computed here from the rule documented in prompts/README.md, independently of
prompts/canary.py: a subject is in the canary when the first 8 bytes of
``sha256(subject + "\\x1f" + name)``, big-endian, over 2**64, are below the share.
The production and candidate versions are read from prompts/labels.default.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing.servers import GatewayServer, isolated_settings
from tests.gateway.clients import Call, burst, key_id

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
PROMPT = "rag_answer"
SHARE = 0.3
LABELS = json.loads((PROJECT / "prompts" / "labels.default.json").read_text(encoding="utf-8"))[PROMPT]
PRODUCTION, CANDIDATE = LABELS["production"], LABELS["candidate"]
QUESTION = "What are the KPIs of an MLOps Engineer?"

ROUTING_YAML = """\
providers:
  extractive:
    type: extractive
models:
  ladder-extractive:
    description: Embedded extractive answers.
    targets:
      - provider: extractive
        model: ladder-extractive
fallback_provider: extractive
"""


def in_canary(subject: str) -> bool:
    digest = hashlib.sha256(subject.encode("utf-8") + b"\x1f" + PROMPT.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < SHARE


class CanaryGateway:
    def __init__(self, url: str, settings: Any) -> None:
        self.url = url
        self.settings = settings

    def create_key(self, name: str, scopes: str = "chat,answers") -> str:
        from gateway.auth.keys import KeyStore

        store = KeyStore(self.settings.ledger_path)
        store.start()
        try:
            return store.create(name, scopes, "manager", rpm=100_000, tpm=100_000_000).plain_key
        finally:
            store.close()


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory, corpus_index_root: Path, torch_embedder: Any) -> Iterator[CanaryGateway]:
    from gateway.app import create_app
    from gateway.services import Services

    data_dir = tmp_path_factory.mktemp("canary-gateway-data")
    shutil.copytree(corpus_index_root, data_dir / "index")
    routing = data_dir / "routing.yaml"
    routing.write_text(ROUTING_YAML, encoding="utf-8")
    # Only what this module says: no developer LADDER_* variables, .env or ladder.toml.
    settings = isolated_settings(
        data_dir, corpus_paths=[PROJECT / "corpus"],
        retrieval={"embedding_backend": "torch"},
        providers={"routing_file": routing, "default_model": "ladder-extractive"},
        auth={"dev_mode": False}, cache={"enabled": False}, prompts={"canary_share": SHARE},
    )
    app = create_app(settings, services=Services(settings, embedder=torch_embedder))
    server = GatewayServer(app)
    server.start()
    yield CanaryGateway(server.url, settings)
    server.stop()


@pytest.fixture(scope="module")
def key(canary: CanaryGateway) -> str:
    return canary.create_key("canary-tests")


def chat(user: str | None = None, **extra: Any) -> Call:
    body: dict[str, Any] = {"model": "ladder-extractive", "messages": [{"role": "user", "content": QUESTION}], **extra}
    if user is not None:
        body["user"] = user
    return Call("POST", "/v1/chat/completions", body)


def served(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["prompt"]["name"] == PROMPT, body["prompt"]
    return body["prompt"]


def expected(subject: str) -> tuple[str, str]:
    return (CANDIDATE, "candidate (canary)") if in_canary(subject) else (PRODUCTION, "production")


def test_labels_differ() -> None:
    # Otherwise the split could not be seen in the answers.
    assert PRODUCTION != CANDIDATE


def test_users_split_by_share_and_stay_put(canary: CanaryGateway, key: str) -> None:
    users = [f"canary-user-{i:03d}" for i in range(40)]
    repeated = users[:10]
    calls = [chat(user) for user in users] + [chat(user) for user in repeated] + [chat(user) for user in repeated]
    responses = burst(canary.url, key, calls, in_flight=4)

    seen: dict[str, set[tuple[str, str]]] = {}
    for call, response in zip(calls, responses, strict=True):
        prompt = served(response)
        seen.setdefault(call.body["user"], set()).add((prompt["version"], prompt["label"]))

    # The same user always gets the same version ...
    assert all(len(versions) == 1 for versions in seen.values()), {u: v for u, v in seen.items() if len(v) > 1}
    # ... and it is the one the documented hash rule assigns.
    got = {user: next(iter(versions)) for user, versions in seen.items()}
    assert got == {user: expected(user) for user in users}
    # Both versions are served, in about the configured share (within three standard deviations).
    share = sum(version == CANDIDATE for version, _ in got.values()) / len(users)
    assert 0 < share < 1
    assert abs(share - SHARE) <= 3 * math.sqrt(SHARE * (1 - SHARE) / len(users)), share


def test_without_a_user_the_key_decides(canary: CanaryGateway) -> None:
    # No ``user`` field: the key id is the subject, on chat and on /v1/answers alike.
    keys = [canary.create_key(f"canary-key-{i}") for i in range(4)]
    for plain in keys:
        version = expected(key_id(plain))
        responses = burst(canary.url, plain, [chat(), Call("POST", "/v1/answers", {"question": QUESTION})], 2)
        assert [(p["version"], p["label"]) for p in map(served, responses)] == [version, version]


def test_a_pinned_version_overrides_the_canary(canary: CanaryGateway, key: str) -> None:
    user = next(f"canary-user-{i:03d}" for i in range(40) if in_canary(f"canary-user-{i:03d}"))
    [response] = burst(canary.url, key, [chat(user, prompt_version=PRODUCTION)], 1)
    prompt = served(response)
    assert (prompt["version"], prompt["label"]) == (PRODUCTION, "pinned")
