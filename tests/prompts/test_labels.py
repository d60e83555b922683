"""Label moves, history, rollback and promotion through the release gate."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prompts.errors import GateRefused, PromptNotFound, RegistryError
from prompts.gate import GateResult
from prompts.registry import PromptRegistry
from prompts.testing import FunctionGate, StaticGate

Factory = Callable[..., PromptRegistry]


def _ticking_clock() -> Callable[[], datetime]:
    moments: Iterator[datetime] = (
        datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(10_000)
    )
    return lambda: next(moments)


def _add_release(registry: PromptRegistry, templates_dir: Path, version: str) -> None:
    src = templates_dir / "rag_answer" / "2.0.0.yaml"
    text = src.read_text().replace('version: "2.0.0"', f'version: "{version}"')
    (templates_dir / "rag_answer" / f"{version}.yaml").write_text(text)
    registry.load_templates()
    registry.release("rag_answer", version, actor="releaser")


def test_registry_file_initialised_from_defaults(registry: PromptRegistry) -> None:
    history = registry.history("rag_answer")
    assert [(e.seq, e.action, e.label, e.from_version, e.to_version, e.actor) for e in history] == [
        (1, "init", "production", None, "1.0.0", "system"),
        (2, "init", "candidate", None, "2.0.0", "system"),
    ]
    assert history[0].reason == "initialised from labels.default.json"
    data = json.loads(registry.registry_file.read_text())
    assert data["prompts"]["rag_answer"]["labels"] == {"production": "1.0.0", "candidate": "2.0.0"}


def test_move_label_records_who_when_from_to_why(make_registry: Factory) -> None:
    registry = make_registry(clock=_ticking_clock())
    entry = registry.move_label("rag_answer", "candidate", "1.0.0", actor="alice", reason="compare")
    assert (entry.label, entry.from_version, entry.to_version) == ("candidate", "2.0.0", "1.0.0")
    assert (entry.actor, entry.reason, entry.action) == ("alice", "compare", "move")
    assert datetime.fromisoformat(entry.at).utcoffset() == timedelta(0)
    assert registry.labels("rag_answer")["candidate"] == "1.0.0"
    stored = json.loads(registry.registry_file.read_text())["prompts"]["rag_answer"]["history"][-1]
    assert stored["from"] == "2.0.0" and stored["to"] == "1.0.0" and stored["actor"] == "alice"
    assert stored["at"] == entry.at and stored["reason"] == "compare"


def test_custom_labels_and_name_rules(registry: PromptRegistry) -> None:
    registry.move_label("rag_answer", "team-blue_2", "2.0.0", actor="a")
    assert registry.resolve("rag_answer", label="team-blue_2").version == "2.0.0"
    for bad in ("Prod", "1st", "has space", "x" * 40, "../etc"):
        with pytest.raises(RegistryError, match="not a valid label"):
            registry.move_label("rag_answer", bad, "2.0.0", actor="a")
    with pytest.raises(PromptNotFound):
        registry.move_label("rag_answer", "candidate", "9.9.9", actor="a")
    with pytest.raises(PromptNotFound):
        registry.move_label("nope", "candidate", "1.0.0", actor="a")
    with pytest.raises(RegistryError, match="actor is required"):
        registry.move_label("rag_answer", "candidate", "1.0.0", actor=" ")


def test_production_only_moves_through_promote(registry: PromptRegistry) -> None:
    with pytest.raises(RegistryError, match="'production' is gated: use promote"):
        registry.move_label("rag_answer", "production", "2.0.0", actor="a")
    assert registry.labels("rag_answer")["production"] == "1.0.0"


def test_promote_runs_the_gate(registry: PromptRegistry) -> None:
    gate = StaticGate(passed=True, summary="faithfulness 0.93 >= 0.90")
    entry = registry.promote("rag_answer", "2.0.0", gate=gate, actor="alice", reason="gate ok")
    assert gate.calls == [("rag_answer", "2.0.0")]
    assert (entry.action, entry.from_version, entry.to_version, entry.forced) == (
        "promote",
        "1.0.0",
        "2.0.0",
        False,
    )
    assert entry.gate is not None and entry.gate.passed is True
    assert entry.gate.summary == "faithfulness 0.93 >= 0.90"
    assert registry.resolve("rag_answer").version == "2.0.0"


def test_promote_refuses_on_a_failing_gate(registry: PromptRegistry) -> None:
    before = registry.registry_file.read_bytes()
    gate = StaticGate(passed=False, summary="citation accuracy 0.71 < 0.80", failures=3)
    with pytest.raises(
        GateRefused, match="release gate refused rag_answer@2.0.0: citation"
    ) as info:
        registry.promote("rag_answer", "2.0.0", gate=gate, actor="alice")
    assert info.value.result is not None and info.value.result.details == {"failures": 3}
    assert registry.registry_file.read_bytes() == before
    assert registry.resolve("rag_answer").version == "1.0.0"


def test_promote_without_a_gate_is_refused(registry: PromptRegistry) -> None:
    with pytest.raises(GateRefused, match="no release gate is available"):
        registry.promote("rag_answer", "2.0.0", gate=None, actor="alice")
    assert registry.labels("rag_answer")["production"] == "1.0.0"


def test_force_needs_a_reason_and_is_recorded(registry: PromptRegistry) -> None:
    failing = StaticGate(passed=False, summary="2 regressions")
    with pytest.raises(RegistryError, match="a reason for --force is required"):
        registry.promote("rag_answer", "2.0.0", gate=failing, force=True, actor="alice")
    entry = registry.promote(
        "rag_answer",
        "2.0.0",
        gate=failing,
        force=True,
        reason="hotfix: injection leak",
        actor="alice",
    )
    assert entry.forced and entry.reason == "hotfix: injection leak"
    assert entry.gate is not None and (entry.gate.passed, entry.gate.summary) == (
        False,
        "2 regressions",
    )
    stored = registry.history("rag_answer")[-1]
    assert stored.forced and stored.gate == entry.gate
    forced_no_gate = registry.promote(
        "rag_answer", "1.0.0", gate=None, force=True, reason="gate not built yet", actor="bob"
    )
    assert forced_no_gate.gate is not None and forced_no_gate.gate.passed is None


def test_promote_to_an_ungated_label_skips_the_gate(registry: PromptRegistry) -> None:
    gate = FunctionGate(lambda n, v: GateResult(False, "must not be called"))
    entry = registry.promote("rag_answer", "1.0.0", gate=gate, actor="a", label="candidate")
    assert entry.gate is None and registry.labels("rag_answer")["candidate"] == "1.0.0"


def test_rollback_walks_back_through_history(registry: PromptRegistry, templates_dir: Path) -> None:
    _add_release(registry, templates_dir, "2.1.0")
    ok = StaticGate(passed=True)
    registry.promote("rag_answer", "2.0.0", gate=ok, actor="alice")
    registry.promote("rag_answer", "2.1.0", gate=ok, actor="alice")
    first = registry.rollback("rag_answer", actor="bob", reason="2.1.0 hallucinates")
    assert (first.action, first.from_version, first.to_version) == ("rollback", "2.1.0", "2.0.0")
    assert (first.actor, first.reason) == ("bob", "2.1.0 hallucinates")
    second = registry.rollback("rag_answer", actor="bob", reason="2.0.0 too")
    assert (second.from_version, second.to_version) == ("2.0.0", "1.0.0")
    with pytest.raises(RegistryError, match="no earlier version to roll back to"):
        registry.rollback("rag_answer", actor="bob", reason="again")
    production = [(e.action, e.to_version) for e in registry.history("rag_answer", "production")]
    assert production == [
        ("init", "1.0.0"),
        ("promote", "2.0.0"),
        ("promote", "2.1.0"),
        ("rollback", "2.0.0"),
        ("rollback", "1.0.0"),
    ]
    assert registry.resolve("rag_answer").version == "1.0.0"


def test_rollback_needs_a_reason(registry: PromptRegistry) -> None:
    registry.promote("rag_answer", "2.0.0", gate=StaticGate(True), actor="a")
    with pytest.raises(RegistryError, match="reason for the rollback is required"):
        registry.rollback("rag_answer", actor="a", reason="")
    assert registry.labels("rag_answer")["production"] == "2.0.0"


def test_moves_by_another_process_are_seen_without_restart(make_registry: Factory) -> None:
    server = make_registry()
    operator = make_registry()
    assert server.resolve("rag_answer").version == "1.0.0"
    operator.promote("rag_answer", "2.0.0", gate=StaticGate(True), actor="op")
    assert server.resolve("rag_answer").version == "2.0.0"
    operator.rollback("rag_answer", actor="op", reason="r")
    assert server.resolve("rag_answer").version == "1.0.0"
    assert len(server.history("rag_answer")) == len(operator.history("rag_answer")) == 4


def test_a_release_after_start_is_picked_up(make_registry: Factory, templates_dir: Path) -> None:
    server = make_registry()
    operator = make_registry()
    _add_release(operator, templates_dir, "2.2.0")
    operator.move_label("rag_answer", "candidate", "2.2.0", actor="op")
    assert server.resolve("rag_answer", label="candidate").version == "2.2.0"


def test_corrupt_registry_file_is_refused_and_left_alone(make_registry: Factory) -> None:
    registry = make_registry()
    registry.registry_file.write_text('{"format": 1, "prompts": {"rag_answer": ')
    with pytest.raises(RegistryError, match="corrupt"):
        make_registry()
    with pytest.raises(RegistryError, match="corrupt"):
        registry.move_label("rag_answer", "candidate", "1.0.0", actor="a")
    assert registry.registry_file.read_text() == '{"format": 1, "prompts": {"rag_answer": '
    # The serving instance keeps its last good labels instead of failing requests.
    assert registry.resolve("rag_answer").version == "1.0.0"


def test_registry_pointing_at_unknown_version_is_refused(make_registry: Factory) -> None:
    registry = make_registry()
    data = json.loads(registry.registry_file.read_text())
    data["prompts"]["rag_answer"]["labels"]["production"] = "7.0.0"
    registry.registry_file.write_text(json.dumps(data))
    with pytest.raises(RegistryError, match="points at 7.0.0"):
        make_registry()


def test_diff_between_versions_and_labels(registry: PromptRegistry) -> None:
    diff = registry.diff("rag_answer", "production", "2.0.0")
    assert diff.startswith("--- rag_answer@1.0.0 (1.0.0.yaml)\n+++ rag_answer@2.0.0 (2.0.0.yaml)\n")
    assert '-version: "1.0.0"\n' in diff and '+version: "2.0.0"\n' in diff
    assert "+guard_policy: strict-citations\n" in diff
    assert registry.diff("rag_answer", "1.0.0", "1.0.0") == ""
    with pytest.raises(PromptNotFound, match="neither a version"):
        registry.diff("rag_answer", "1.0", "2.0.0")


def test_not_loaded_is_a_clear_error(tmp_path: Path, templates_dir: Path) -> None:
    cold = PromptRegistry(templates_dir, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()  # the constructor does no work
    with pytest.raises(RegistryError, match="call warm_up"):
        cold.resolve("rag_answer")
    cold.warm_up()
    assert cold.resolve("rag_answer").version == "1.0.0"
