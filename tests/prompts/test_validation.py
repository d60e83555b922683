"""Every invalid template fails at load with FILE:LINE and a reason a person can act on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from prompts.errors import TemplateValidationError
from prompts.loader import load_template

Writer = Callable[..., Path]

# Line numbers below refer to this text: 1 name, 6 parameters, 9 input_variables,
# 10 question, 14 system, 16 user, 17 the user template's first line.
DEMO_TEMPLATE = """\
name: demo
version: "1.0.0"
description: A demo prompt.
changelog: first
guard_policy: default
parameters:
  temperature: 0.1
  max_tokens: 100
input_variables:
  question:
    type: str
    description: the question
    example: "why?"
system: |
  You answer briefly.
user: |
  Question: {{ question }}
"""


def _error(path: Path) -> TemplateValidationError:
    with pytest.raises(TemplateValidationError) as info:
        load_template(path)
    return info.value


def _replace(old: str, new: str) -> str:
    assert old in DEMO_TEMPLATE
    return DEMO_TEMPLATE.replace(old, new)


def test_demo_template_is_valid(write_template: Writer) -> None:
    loaded = load_template(write_template(DEMO_TEMPLATE))
    assert loaded.ref == "demo@1.0.0"
    assert loaded.render({"question": "why?"}).user == "Question: why?"


def test_unknown_field_names_file_and_line(write_template: Writer) -> None:
    path = write_template(_replace("  max_tokens: 100\n", "  max_tokens: 100\n  temprature: 0.3\n"))
    error = _error(path)
    assert error.line == 9
    assert str(error).startswith(f"{path}:9: ")
    assert "unknown field 'parameters.temprature'" in str(error)


def test_unknown_top_level_field(write_template: Writer) -> None:
    path = write_template(
        _replace("guard_policy: default\n", "guard_policy: default\nmodel: gpt\n")
    )
    error = _error(path)
    assert (error.line, "unknown field 'model'" in str(error)) == (6, True)


def test_wrong_type_points_at_the_field(write_template: Writer) -> None:
    path = write_template(_replace("  temperature: 0.1", "  temperature: hot"))
    error = _error(path)
    assert error.line == 7
    assert "parameters.temperature" in str(error)


def test_missing_field_is_reported(write_template: Writer) -> None:
    path = write_template(_replace("changelog: first\n", ""))
    error = _error(path)
    assert f"{path}:1:" in str(error)
    assert "missing required field 'changelog'" in str(error)


def test_undeclared_variable_names_the_template_line(write_template: Writer) -> None:
    text = _replace(
        "  Question: {{ question }}\n",
        "  Question: {{ question }}\n  Context:\n  {{ context }}\n",
    )
    path = write_template(text)
    error = _error(path)
    # user: is on line 16, its block starts on 17; {{ context }} is the third line.
    assert error.line == 19
    assert "'context' is used but not declared" in str(error)
    assert str(error).startswith(f"{path}:19: user:")


def test_declared_but_unused_variable_is_an_error(write_template: Writer) -> None:
    text = _replace(
        "system: |",
        "  audience:\n    type: str\n    description: who reads\n    example: x\nsystem: |",
    )
    error = _error(write_template(text))
    assert error.line == 14
    assert "'audience' is declared but never used" in str(error)


def test_template_that_fails_to_render_names_its_line(write_template: Writer) -> None:
    text = _replace(
        "  Question: {{ question }}\n",
        "  Question: {{ question }}\n  Upper: {{ question.nope }}\n",
    )
    error = _error(write_template(text))
    assert error.line == 18
    assert "does not render with the declared examples" in str(error)
    assert "nope" in str(error)


def test_render_failure_in_system_is_mapped(write_template: Writer) -> None:
    text = _replace(
        "  You answer briefly.\n", "  You answer briefly.\n  {{ 1 // 0 }}{{ question }}\n"
    )
    error = _error(write_template(text))
    assert error.line == 16
    assert "ZeroDivisionError" in str(error)


def test_minimal_values_are_rendered_too(write_template: Writer) -> None:
    # Fine with the example, broken when the nullable variable is None.
    text = _replace(
        '    example: "why?"\n',
        '    nullable: true\n    example: "why?"\n',
    ).replace("  Question: {{ question }}", "  Question: {{ question.upper() }}")
    error = _error(write_template(text))
    assert error.line == 18
    assert "minimal values" in str(error)


def test_jinja_syntax_error_names_the_line(write_template: Writer) -> None:
    text = _replace(
        "  Question: {{ question }}\n", "  Question: {{ question }}\n  {% for x in %}\n"
    )
    error = _error(write_template(text))
    assert error.line == 18
    assert "template syntax error" in str(error)


def test_unknown_filter_is_a_load_error(write_template: Writer) -> None:
    error = _error(write_template(_replace("{{ question }}", "{{ question | shout }}")))
    assert error.line == 17
    assert "No filter named 'shout'" in str(error)


def test_yaml_syntax_error_uses_the_yaml_mark(write_template: Writer) -> None:
    path = write_template(_replace("guard_policy: default", "guard_policy: [default"))
    error = _error(path)
    assert str(error).startswith(f"{path}:")
    assert "YAML syntax error" in str(error)
    assert error.line == 6  # the parser notices the unclosed flow sequence on the next key


def test_yaml_bad_indentation(write_template: Writer) -> None:
    path = write_template(_replace("  max_tokens: 100", "   max_tokens: 100"))
    error = _error(path)
    assert error.line == 8
    assert "YAML syntax error" in str(error)


def test_duplicate_key_is_refused(write_template: Writer) -> None:
    path = write_template(_replace("changelog: first\n", "changelog: first\nchangelog: second\n"))
    error = _error(path)
    assert error.line == 5
    assert "duplicate key 'changelog' (first defined on line 4)" in str(error)


def test_name_must_match_folder(write_template: Writer) -> None:
    path = write_template(DEMO_TEMPLATE, name="other")
    error = _error(path)
    assert error.line == 1
    assert "does not match its folder 'other'" in str(error)


def test_version_must_match_file_name(write_template: Writer) -> None:
    error = _error(write_template(DEMO_TEMPLATE, version="1.0.1"))
    assert error.line == 2
    assert "does not match the file name" in str(error)


def test_example_must_match_declared_type(write_template: Writer) -> None:
    error = _error(write_template(_replace('example: "why?"', "example: 42")))
    assert error.line == 10
    assert "example does not match the declared type: expected str, got int" in str(error)


def test_list_items_are_checked(write_template: Writer) -> None:
    text = _replace(
        "system: |",
        "  rows:\n    type: list\n    description: r\n    items: {n: int}\n"
        "    example: [{n: one}]\nsystem: |",
    ).replace("{{ question }}", "{{ question }}{% for r in rows %}{{ r.n }}{% endfor %}")
    error = _error(write_template(text))
    assert error.line == 14
    assert "item 0 field 'n': expected int, got str" in str(error)


def test_abstain_text_must_be_in_the_prompt(write_template: Writer) -> None:
    error = _error(
        write_template(_replace("changelog: first\n", "changelog: first\nabstain_text: Sorry.\n"))
    )
    assert error.line == 5
    assert "abstain_text must appear verbatim" in str(error)


def test_bad_version_string(write_template: Writer) -> None:
    path = write_template(_replace('version: "1.0.0"', 'version: "v1"'), version="v1")
    error = _error(path)
    assert error.line == 2
    assert "MAJOR.MINOR.PATCH" in str(error)


def test_empty_and_non_mapping_files(write_template: Writer) -> None:
    assert "empty" in str(_error(write_template("")))
    assert "must be a YAML mapping" in str(_error(write_template("- a\n- b\n")))
