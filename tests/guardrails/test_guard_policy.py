"""Policy files: validated at load with file + field in the error; resolution rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.errors import GuardInputError, PolicyError
from guardrails.policy import load_policies, load_policy_file

REPO_POLICIES = Path(__file__).resolve().parents[2] / "guardrails" / "policies"


def write(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path


def test_shipped_policies_load_and_cover_every_audience() -> None:
    policies = load_policies(REPO_POLICIES)
    assert policies.names == ["default", "strict-citations"]
    for name in policies.names:
        for audience in ("employee", "manager", "evaluator"):
            policies.resolve(audience, None, name)
    assert policies.resolve("evaluator").output.grounding.action == "warn"
    assert policies.resolve("employee").input.injection.action == "block"


def test_managers_get_stricter_output_checks_than_employees() -> None:
    policies = load_policies(REPO_POLICIES)
    employee, manager = policies.resolve("employee"), policies.resolve("manager")
    # Same defence on the way in ...
    assert manager.input == employee.input
    # ... but a manager's answer with an invented citation is refused, not cleaned up,
    # and a mostly unsupported one is refused rather than sent back trimmed.
    assert (employee.output.citations.action, manager.output.citations.action) == ("remove", "refuse")
    assert manager.output.grounding.max_removed_fraction < employee.output.grounding.max_removed_fraction


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path, "p.yaml", "name: x\naudiences: [employee]\ninput:\n  scope: {treshold: 0.3}\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert str(path) in str(caught.value)
    assert "input.scope.treshold: unknown field" in str(caught.value)


def test_action_not_allowed_for_guard(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        "name: x\naudiences: [employee]\ninput:\n  injection: {action: redact}\n",
    )
    with pytest.raises(PolicyError, match=r"input\.injection\.action: .*'redact' is not an action"):
        load_policy_file(path)
    path = write(
        tmp_path,
        "q.yaml",
        "name: x\naudiences: [employee]\noutput:\n  grounding: {action: explode}\n",
    )
    with pytest.raises(PolicyError, match=r"output\.grounding\.action"):
        load_policy_file(path)


def test_threshold_out_of_range(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        "name: x\naudiences: [employee]\noutput:\n  grounding: {threshold: 1.5}\n",
    )
    with pytest.raises(
        PolicyError, match=r"output\.grounding\.threshold: .*less than or equal to 1 \(got 1\.5\)"
    ):
        load_policy_file(path)


def test_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy_file(write(tmp_path, "a.yaml", "name: [unclosed\n"))
    with pytest.raises(PolicyError, match="must hold a mapping"):
        load_policy_file(write(tmp_path, "b.yaml", "- just\n- a list\n"))
    with pytest.raises(PolicyError, match="audiences: Field required"):
        load_policy_file(write(tmp_path, "c.yaml", "name: x\n"))


def test_duplicate_definitions_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: x\naudiences: [employee]\n")
    write(tmp_path, "b.yaml", "name: x\naudiences: [employee, manager]\n")
    with pytest.raises(PolicyError, match="also defined in"):
        load_policies(tmp_path)


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no \\*.yaml"):
        load_policies(tmp_path)
    with pytest.raises(PolicyError, match="does not exist"):
        load_policies(tmp_path / "missing")


def test_resolution_prefers_exact_audience_then_exact_version(tmp_path: Path) -> None:
    write(tmp_path, "any.yaml", "name: x\naudiences: ['*']\ndescription: any\n")
    write(tmp_path, "emp.yaml", "name: x\naudiences: [employee]\ndescription: employee\n")
    write(
        tmp_path,
        "v2.yaml",
        "name: x\naudiences: [employee]\nprompt_versions: ['2.0.0']\ndescription: v2\n",
    )
    policies = load_policies(tmp_path)
    assert policies.resolve("employee", "2.0.0", "x").description == "v2"
    assert policies.resolve("employee", "1.0.0", "x").description == "employee"
    assert policies.resolve("manager", "2.0.0", "x").description == "any"
    with pytest.raises(GuardInputError, match="no guard policy named 'y'"):
        policies.resolve("employee", None, "y")


def test_unknown_audience_is_a_clear_error() -> None:
    with pytest.raises(GuardInputError, match="audience 'visitor'"):
        load_policies(REPO_POLICIES).resolve("visitor")
