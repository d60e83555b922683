"""Load and validate template files. Every failure names the file and the line.

Checks, in order: YAML syntax (and duplicate keys), the schema (unknown or missing
fields, wrong types), the file's place (``<name>/<version>.yaml`` must match its
``name`` and ``version``), Jinja syntax, variables used but not declared, variables
declared but never used, and finally a render with the declared examples and a
render with every nullable variable set to None and every list empty.

A declared-but-unused variable is an ERROR, not a warning: the caller must supply
every declared variable, so an unused one is data the model silently never sees
(usually a template that forgot ``role_filter`` or ``history``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prompts.errors import TemplateValidationError
from prompts.fileio import content_hash
from prompts.rendering import (
    TEMPLATE_FIELDS,
    CompiledPrompt,
    CompileFailure,
    RenderedPrompt,
    TemplateFailure,
    compile_field,
    failure_from_render,
    first_line_using,
)
from prompts.schema import PromptTemplate
from prompts.yaml_source import YamlDocument, parse_yaml


@dataclass(frozen=True)
class LoadedTemplate:
    """One validated version file: its model, compiled templates and content hash."""

    template: PromptTemplate
    path: Path
    sha256: str
    text: str
    compiled: CompiledPrompt

    @property
    def ref(self) -> str:
        return self.template.ref

    def render(self, variables: dict[str, Any]) -> RenderedPrompt:
        return self.compiled.render(variables)


def _schema_error(document: YamlDocument, exc: ValidationError) -> TemplateValidationError:
    located: list[tuple[int, str]] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        dotted = ".".join(str(part) for part in loc) or "(file)"
        if error["type"] == "extra_forbidden":
            message = f"unknown field {dotted!r}"
        elif error["type"] == "missing":
            message = f"missing required field {dotted!r}"
        else:
            message = f"{dotted}: {error['msg']}"
        located.append((document.line_for(loc), message))
    located.sort()
    line, first = located[0]
    others = "".join(f"; line {n}: {m}" for n, m in located[1:])
    return TemplateValidationError(document.path, line, first + others)


def _fail(document: YamlDocument, failure: TemplateFailure) -> TemplateValidationError:
    line = document.template_line(failure.field, failure.line)
    return TemplateValidationError(document.path, line, f"{failure.field}: {failure.reason}")


def _minimal_values(template: PromptTemplate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, declared in template.input_variables.items():
        if declared.nullable:
            values[name] = None
        elif declared.type == "list":
            values[name] = []
        else:
            values[name] = declared.example
    return values


def load_template(path: Path) -> LoadedTemplate:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateValidationError(path, None, f"cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateValidationError(path, None, f"not UTF-8: {exc}") from exc
    document = parse_yaml(path, text)
    try:
        template = PromptTemplate.model_validate(document.data)
    except ValidationError as exc:
        raise _schema_error(document, exc) from exc

    if template.name != path.parent.name:
        raise TemplateValidationError(
            path,
            document.line_for(("name",), prefer_key=False),
            f"name {template.name!r} does not match its folder {path.parent.name!r}",
        )
    if template.version != path.stem:
        raise TemplateValidationError(
            path,
            document.line_for(("version",), prefer_key=False),
            f"version {template.version!r} does not match the file name {path.name!r}",
        )

    origin = str(path)
    compiled_fields = {}
    used: set[str] = set()
    for field in TEMPLATE_FIELDS:
        source = getattr(template, field)
        try:
            compiled, names = compile_field(origin, field, source)
        except CompileFailure as exc:
            raise _fail(document, exc.failure) from exc
        compiled_fields[field] = compiled
        for name in sorted(names - set(template.input_variables)):
            line = first_line_using(source, name)
            raise _fail(
                document,
                TemplateFailure(
                    field,
                    line,
                    f"variable {name!r} is used but not declared in input_variables",
                ),
            )
        used |= names

    for name in template.input_variables:
        if name not in used:
            raise TemplateValidationError(
                path,
                document.line_for(("input_variables", name)),
                f"input variable {name!r} is declared but never used by system or user",
            )

    if template.abstain_text is not None and not any(
        template.abstain_text in getattr(template, f) for f in TEMPLATE_FIELDS
    ):
        raise TemplateValidationError(
            path,
            document.line_for(("abstain_text",)),
            "abstain_text must appear verbatim in the system or user template",
        )

    compiled_prompt = CompiledPrompt(
        origin=template.ref,
        variables=template.input_variables,
        system=compiled_fields["system"],
        user=compiled_fields["user"],
    )
    examples = {name: v.example for name, v in template.input_variables.items()}
    for label, values in (("examples", examples), ("minimal values", _minimal_values(template))):
        try:
            compiled_prompt.system.render(values)
            compiled_prompt.user.render(values)
        # Anything a template raises on its own examples is a bug in that template.
        except Exception as exc:
            failure = failure_from_render(origin, exc)
            reason = f"does not render with the declared {label}: {failure.reason}"
            raise _fail(document, TemplateFailure(failure.field, failure.line, reason)) from exc

    return LoadedTemplate(
        template=template, path=path, sha256=content_hash(raw), text=text, compiled=compiled_prompt
    )


def discover(templates_dir: Path) -> list[Path]:
    """Every ``<name>/<version>.yaml`` under the templates folder, sorted."""
    if not templates_dir.is_dir():
        raise TemplateValidationError(templates_dir, None, "the templates folder does not exist")
    stray = sorted(templates_dir.glob("*/*.yml"))
    if stray:
        raise TemplateValidationError(stray[0], None, "template files must end in .yaml")
    return sorted(p for p in templates_dir.glob("*/*.yaml") if not p.name.startswith("."))
