"""``ladder prompts …`` end to end through typer's CliRunner, on a tmp registry file."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gateway.cli import common
from gateway.cli import prompts as prompts_cli
from prompts.gate import GateResult

COMMANDS = ["list", "show", "diff", "promote", "rollback", "history", "release", "labels"]


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.command("noop")(lambda: None)  # a second command keeps "prompts" a sub-command
    prompts_cli.register(root)
    return root


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, templates_dir: Path) -> Path:
    """Settings point at tmp copies; returns the registry file path."""
    monkeypatch.chdir(tmp_path)  # no stray .env / ladder.toml from the checkout
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LADDER_PROMPTS__TEMPLATES_DIR", str(templates_dir))
    monkeypatch.setenv("USER", "carol")
    # Tests must not depend on whether evals.gate exists yet: none unless a test installs one.
    monkeypatch.setitem(sys.modules, "evals.gate", None)
    # The shared console was sized at import (80 columns off a terminal); widen it so
    # table cells are not folded mid-word. monkeypatch restores the original (unset).
    monkeypatch.setattr(common.console, "_width", 200)
    monkeypatch.setattr(common.err_console, "_width", 200)
    return tmp_path / "data" / "prompt-registry.json"


BOX_DRAWING = re.compile("[\u2500-\u257f]")


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    """Exit code and output with table borders removed and whitespace collapsed."""
    result = CliRunner().invoke(app, ["prompts", *args])
    return result.exit_code, " ".join(BOX_DRAWING.sub(" ", result.output).split())


def install_gate(monkeypatch: pytest.MonkeyPatch, passed: bool, summary: str) -> list[object]:
    seen: list[object] = []

    class GoldenGate:
        def __init__(self, settings: object) -> None:
            seen.append(settings)

        def check(self, name: str, version: str) -> GateResult:
            seen.append((name, version))
            return GateResult(passed=passed, summary=summary)

    module = types.ModuleType("evals.gate")
    module.GoldenGate = GoldenGate  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "evals.gate", module)
    return seen


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_help_on_every_command(app: typer.Typer, command: list[str]) -> None:
    code, output = run(app, *command, "--help")
    assert code == 0 and "Usage:" in output


def test_list_show_labels(app: typer.Typer, env: Path) -> None:
    code, output = run(app, "list")
    assert code == 0
    assert "rag_answer 1.0.0 released production" in output
    assert "rag_answer 2.0.0 released candidate" in output
    assert env.is_file()  # the registry was initialised on first use

    code, output = run(app, "show", "rag_answer")
    assert code == 0 and "rag_answer@1.0.0" in output and "default" in output
    code, output = run(app, "show", "rag_answer", "2.0.0", "--render")
    assert code == 0 and "I can't answer that from the role blueprints I have." in output
    assert "{{" not in output

    code, output = run(app, "labels", "rag_answer")
    assert code == 0 and "candidate 2.0.0" in output and "production 1.0.0" in output


def test_diff(app: typer.Typer, env: Path) -> None:
    code, output = run(app, "diff", "rag_answer", "1.0.0", "candidate")
    assert code == 0
    assert "--- rag_answer@1.0.0 (1.0.0.yaml)" in output
    assert "+guard_policy: strict-citations" in output and "-guard_policy: default" in output


def test_promote_refuses_without_the_golden_gate(app: typer.Typer, env: Path) -> None:
    code, output = run(app, "promote", "rag_answer", "2.0.0")
    assert code == 1
    assert "golden-set release gate is unavailable" in output and "Nothing was changed" in output
    labels = json.loads(env.read_text())["prompts"]["rag_answer"]["labels"]
    assert labels["production"] == "1.0.0"


def test_force_requires_a_reason(app: typer.Typer, env: Path) -> None:
    code, output = run(app, "promote", "rag_answer", "2.0.0", "--force")
    assert code == 2 and "--force needs --reason" in output


def test_forced_promotion_is_recorded(app: typer.Typer, env: Path) -> None:
    code, output = run(app, "promote", "rag_answer", "2.0.0", "--force", "--reason", "CVE fix")
    assert code == 0 and "production 1.0.0 → 2.0.0 FORCED" in output
    last = json.loads(env.read_text())["prompts"]["rag_answer"]["history"][-1]
    assert (last["actor"], last["reason"], last["forced"]) == ("carol", "CVE fix", True)
    assert last["gate"] == {"passed": None, "summary": "no release gate available"}
    code, output = run(app, "history", "rag_answer")
    assert code == 0 and "promote (forced)" in output and "CVE fix" in output


def test_promote_through_a_passing_gate(
    app: typer.Typer, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = install_gate(monkeypatch, True, "golden set: 48/48")
    code, output = run(app, "promote", "rag_answer", "2.0.0", "--actor", "dave")
    assert code == 0 and "(gate: golden set: 48/48)" in output
    assert seen[1] == ("rag_answer", "2.0.0")
    last = json.loads(env.read_text())["prompts"]["rag_answer"]["history"][-1]
    assert (last["actor"], last["forced"], last["gate"]["passed"]) == ("dave", False, True)


def test_promote_refused_by_a_failing_gate(
    app: typer.Typer, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_gate(monkeypatch, False, "faithfulness dropped 0.91 -> 0.84")
    code, output = run(app, "promote", "rag_answer", "2.0.0")
    assert code == 1 and "release gate refused rag_answer@2.0.0" in output
    assert json.loads(env.read_text())["prompts"]["rag_answer"]["labels"]["production"] == "1.0.0"


def test_candidate_moves_and_rollback(app: typer.Typer, env: Path) -> None:
    code, output = run(app, "promote", "rag_answer", "1.0.0", "--label", "candidate")
    assert code == 0 and "candidate 2.0.0 → 1.0.0" in output
    code, output = run(app, "rollback", "rag_answer", "--label", "candidate", "--reason", "oops")
    assert code == 0 and "candidate rolled back 1.0.0 → 2.0.0" in output
    code, output = run(app, "rollback", "rag_answer", "--reason", "nothing earlier")
    assert code == 1 and "no earlier version to roll back to" in output
    code, output = run(app, "rollback", "rag_answer")
    assert code == 2  # --reason is mandatory
    code, output = run(app, "history", "rag_answer", "--label", "candidate")
    assert code == 0 and "rollback" in output and "oops" in output and "carol" in output


def test_release_a_draft(app: typer.Typer, env: Path, templates_dir: Path) -> None:
    src = templates_dir / "rag_answer" / "2.0.0.yaml"
    (templates_dir / "rag_answer" / "2.0.1.yaml").write_text(
        src.read_text().replace('version: "2.0.0"', 'version: "2.0.1"')
    )
    code, output = run(app, "list")
    assert "2.0.1 draft" in output
    code, output = run(app, "promote", "rag_answer", "2.0.1", "--label", "candidate")
    assert code == 1 and "is a draft" in output
    code, output = run(app, "release", "rag_answer@2.0.1")
    assert code == 0 and "released rag_answer@2.0.1" in output
    lock = json.loads((templates_dir / "LOCK.json").read_text())["released"]
    assert lock["rag_answer@2.0.1"]["released_by"] == "carol"
    code, output = run(app, "release", "rag_answer@2.0.1")
    assert code == 0 and "already released" in output
    assert run(app, "release", "rag_answer-2.0.1")[0] == 2


def test_errors_exit_cleanly(app: typer.Typer, env: Path, templates_dir: Path) -> None:
    code, output = run(app, "show", "nope")
    assert code == 1 and "no prompt named 'nope'" in output
    path = templates_dir / "rag_answer" / "1.0.0.yaml"
    path.write_text(path.read_text() + "extra: 1\n")
    code, output = run(app, "list")
    assert code == 1 and "rag_answer@1.0.0 was edited after release: create 1.0.1 instead" in output
