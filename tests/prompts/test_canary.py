"""Resolution: production by default, pins, explicit labels, and a stable canary split."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from prompts.canary import bucket, in_canary
from prompts.errors import PromptNotFound
from prompts.registry import PromptRegistry

Factory = Callable[..., PromptRegistry]


def test_bucket_matches_its_definition() -> None:
    digest = hashlib.sha256(b"user-42\x1frag_answer").digest()
    assert bucket("user-42", "rag_answer") == int.from_bytes(digest[:8], "big") / 2**64
    assert bucket("ab", "c") != bucket("a", "bc")


@pytest.mark.parametrize("share", [0.05, 0.1, 0.25, 0.5])
def test_canary_share_over_ten_thousand_users(registry: PromptRegistry, share: float) -> None:
    versions = [
        registry.resolve("rag_answer", subject=f"user-{i}", canary_share=share)
        for i in range(10_000)
    ]
    canary = [r for r in versions if r.label == "candidate (canary)"]
    assert abs(len(canary) / 10_000 - share) <= 0.03
    assert {r.version for r in canary} == {"2.0.0"}
    assert {r.version for r in versions if r.label == "production"} == {"1.0.0"}


def test_assignment_is_stable_across_calls_and_instances(make_registry: Factory) -> None:
    first, second = make_registry(), make_registry()
    subjects = [f"key_{i}" for i in range(500)]
    once = [first.resolve("rag_answer", subject=s, canary_share=0.3).version for s in subjects]
    again = [first.resolve("rag_answer", subject=s, canary_share=0.3).version for s in subjects]
    other = [second.resolve("rag_answer", subject=s, canary_share=0.3).version for s in subjects]
    assert once == again == other
    assert set(once) == {"1.0.0", "2.0.0"}


def test_raising_the_share_only_adds_users_to_the_canary(registry: PromptRegistry) -> None:
    def canary_at(share: float) -> set[str]:
        return {
            f"u{i}"
            for i in range(2000)
            if registry.resolve("rag_answer", subject=f"u{i}", canary_share=share).label
            != "production"
        }

    assert canary_at(0.1) <= canary_at(0.2) <= canary_at(0.5)


def test_edges_of_the_split(registry: PromptRegistry) -> None:
    assert registry.resolve("rag_answer", subject="u", canary_share=0.0).label == "production"
    full = registry.resolve("rag_answer", subject="u", canary_share=1.0)
    assert (full.label, full.version) == ("candidate (canary)", "2.0.0")
    # Anonymous traffic cannot be kept stable, so it stays on production.
    assert registry.resolve("rag_answer", subject=None, canary_share=1.0).label == "production"
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        registry.resolve("rag_answer", subject="u", canary_share=1.5)
    assert not in_canary("u", "rag_answer", 0.0)


def test_no_candidate_label_means_no_canary(make_registry: Factory) -> None:
    registry = make_registry(defaults_file=None)
    assert registry.labels("rag_answer") == {"production": "2.0.0"}  # newest released
    assert registry.resolve("rag_answer", subject="u", canary_share=1.0).label == "production"


def test_pins_and_labels(registry: PromptRegistry) -> None:
    pinned = registry.resolve("rag_answer", pinned_version="2.0.0", subject="u", canary_share=1.0)
    assert (pinned.version, pinned.label) == ("2.0.0", "pinned")
    by_label_pin = registry.resolve(
        "rag_answer", pinned_version="production", canary_share=1.0, subject="u"
    )
    assert (by_label_pin.version, by_label_pin.label) == ("1.0.0", "pinned")
    explicit = registry.resolve("rag_answer", label="candidate")
    assert (explicit.version, explicit.label) == ("2.0.0", "candidate")
    default = registry.resolve("rag_answer")
    assert (default.name, default.version, default.label) == ("rag_answer", "1.0.0", "production")
    assert default.content_hash == registry.get_version("rag_answer", "1.0.0").sha256
    assert default.ref == "rag_answer@1.0.0" and default.guard_policy == "default"
    assert default.parameters.max_tokens == 700


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pinned_version": "3.0.0"}, "no version '3.0.0'"),
        ({"pinned_version": "nightly"}, "no label 'nightly'"),
        ({"pinned_version": "v2!"}, "neither a version"),
        ({"label": "nightly"}, "no label 'nightly'"),
    ],
)
def test_unknown_versions_and_labels(
    registry: PromptRegistry, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(PromptNotFound, match=message):
        registry.resolve("rag_answer", **kwargs)


def test_unknown_prompt(registry: PromptRegistry) -> None:
    with pytest.raises(PromptNotFound, match="no prompt named 'summary' \\(known: rag_answer\\)"):
        registry.resolve("summary")
