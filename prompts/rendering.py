"""Compiling and rendering template text with Jinja2.

The environment is sandboxed (a template cannot reach Python internals) and strict
(an undefined name is an error, never an empty string). Autoescaping is off: the
output is plain text for a model, not HTML.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from prompts.errors import PromptRenderError
from prompts.schema import InputVariable

TEMPLATE_FIELDS = ("system", "user")


def defang(value: object, tag: str) -> str:
    """Neutralise ``<tag`` / ``</tag`` inside data so it cannot close our delimiters.

    Passages and history are untrusted text; a passage containing ``</passage>``
    could otherwise pretend its content ended and inject instructions after it.
    Only that exact tag is touched, so quoted targets like ``< 2 s`` stay exact.
    """
    return _tag_pattern(tag).sub(r"&lt;\1\2", str(value))


@lru_cache(maxsize=32)
def _tag_pattern(tag: str) -> re.Pattern[str]:
    return re.compile(r"<(/?)(\s*" + re.escape(tag) + r")", re.IGNORECASE)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["defang"] = defang
    return env


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str

    def messages(self) -> list[dict[str, str]]:
        """OpenAI-style chat messages: the system message, then the user message."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user},
        ]


@dataclass(frozen=True)
class TemplateFailure:
    """Where compilation or rendering failed: which field, which line inside it, why."""

    field: str
    line: int
    reason: str


class CompileFailure(Exception):
    def __init__(self, failure: TemplateFailure):
        super().__init__(failure.reason)
        self.failure = failure


def _label(origin: str, field: str) -> str:
    return f"{origin}#{field}"


def compile_field(origin: str, field: str, source: str) -> tuple[Template, set[str]]:
    """Compile one template field; return it with the variable names it reads."""
    env = environment()
    label = _label(origin, field)
    try:
        parsed = env.parse(source, name=label, filename=label)
        code = env.compile(parsed, name=label, filename=label)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None) or 1
        message = getattr(exc, "message", None) or str(exc)
        raise CompileFailure(
            TemplateFailure(field, line, f"template syntax error: {message}")
        ) from exc
    names = set(meta.find_undeclared_variables(parsed)) - set(env.globals)
    template = env.template_class.from_code(env, code, env.make_globals(None), None)
    return template, names


def first_line_using(source: str, name: str) -> int:
    pattern = re.compile(r"\b" + re.escape(name) + r"\b")
    for number, text in enumerate(source.splitlines(), start=1):
        if ("{{" in text or "{%" in text) and pattern.search(text):
            return number
    return 1


def failure_from_render(origin: str, exc: BaseException) -> TemplateFailure:
    """Find the template line of a render error in Jinja's rewritten traceback."""
    for field in TEMPLATE_FIELDS:
        label = _label(origin, field)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == label]
        if frames:
            return TemplateFailure(field, frames[-1].lineno or 1, f"{type(exc).__name__}: {exc}")
    return TemplateFailure("user", 1, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class CompiledPrompt:
    """The compiled system/user templates of one version plus its variable contract."""

    origin: str
    variables: Mapping[str, InputVariable]
    system: Template
    user: Template

    def check_variables(self, values: Mapping[str, Any]) -> None:
        missing = sorted(set(self.variables) - set(values))
        unexpected = sorted(set(values) - set(self.variables))
        problems: list[str] = []
        if missing:
            problems.append(f"missing variable(s): {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected variable(s): {', '.join(unexpected)}")
        for name, declared in self.variables.items():
            if name in values:
                problem = declared.problem_with(values[name])
                if problem is not None:
                    problems.append(f"{name}: {problem}")
        if problems:
            raise PromptRenderError(f"{self.origin}: " + "; ".join(problems))

    def render(self, values: Mapping[str, Any]) -> RenderedPrompt:
        self.check_variables(values)
        try:
            system = self.system.render(values)
            user = self.user.render(values)
        except TemplateError as exc:
            raise PromptRenderError(f"{self.origin}: {exc}") from exc
        except Exception as exc:
            # Values of the declared types can still trip an expression (a division,
            # a filter); the caller gets a PromptRenderError, never a bare crash.
            raise PromptRenderError(f"{self.origin}: {type(exc).__name__}: {exc}") from exc
        return RenderedPrompt(system=system.strip(), user=user.strip())
