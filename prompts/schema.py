"""The shape of a prompt template file (``prompts/templates/<name>/<version>.yaml``).

Every model forbids unknown fields, so a typo (``temprature``) fails at load time
instead of silently falling back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Plain MAJOR.MINOR.PATCH: versions sort numerically and never collide with label names.
VERSION_PATTERN = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# Labels start with a letter, so a pin like "2.0.0" is never mistaken for one.
LABEL_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
POLICY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")

ScalarType = Literal["str", "int", "float", "bool"]
VariableType = Literal["str", "int", "float", "bool", "list", "dict"]


def version_key(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False


def _field_of(item: Any, key: str) -> tuple[bool, Any]:
    if isinstance(item, Mapping):
        return (key in item, item.get(key))
    return (hasattr(item, key), getattr(item, key, None))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputVariable(_Strict):
    type: VariableType
    description: str = Field(min_length=1)
    nullable: bool = False
    # For lists: a scalar type for every item, or the fields every item must carry.
    items: ScalarType | dict[str, ScalarType] | None = None
    # Required, not defaulted: load-time validation renders the template with it.
    example: Any = Field(description="Sample value used to validate the template at load")

    @model_validator(mode="after")
    def _check(self) -> InputVariable:
        if self.items is not None and self.type != "list":
            raise ValueError("'items' is only allowed on variables of type 'list'")
        problem = self.problem_with(self.example)
        if problem is not None:
            raise ValueError(f"example does not match the declared type: {problem}")
        return self

    def problem_with(self, value: Any) -> str | None:
        """Why ``value`` does not fit this declaration, or None when it does."""
        if value is None:
            return None if self.nullable else "got None but the variable is not nullable"
        if self.type in ("str", "int", "float", "bool"):
            return None if _scalar_ok(self.type, value) else _wrong(self.type, value)
        if self.type == "dict":
            return None if isinstance(value, Mapping) else _wrong("dict", value)
        if not isinstance(value, list | tuple):
            return _wrong("list", value)
        if self.items is None:
            return None
        for index, item in enumerate(value):
            if isinstance(self.items, str):
                if not _scalar_ok(self.items, item):
                    return f"item {index}: {_wrong(self.items, item)}"
                continue
            for key, kind in self.items.items():
                present, field_value = _field_of(item, key)
                if not present:
                    return f"item {index} has no field {key!r}"
                if not _scalar_ok(kind, field_value):
                    return f"item {index} field {key!r}: {_wrong(kind, field_value)}"
        return None


def _wrong(expected: str, value: Any) -> str:
    return f"expected {expected}, got {type(value).__name__}"


class ModelParameters(_Strict):
    temperature: float = Field(ge=0.0, le=2.0)
    max_tokens: int = Field(ge=1, le=32_768)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: list[str] | None = Field(None, max_length=4)

    @field_validator("stop")
    @classmethod
    def _non_empty_stops(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not s for s in value):
            raise ValueError("stop sequences must not be empty strings")
        return value


class PromptTemplate(_Strict):
    name: str
    version: str
    description: str = Field(min_length=1)
    system: str = Field(min_length=1, description="System message (a Jinja2 template)")
    user: str = Field(min_length=1, description="User message (a Jinja2 template)")
    input_variables: dict[str, InputVariable]
    parameters: ModelParameters
    guard_policy: str = Field(description="Name of the guard policy the output is checked with")
    # The fixed sentence the prompt tells the model to use when it must abstain;
    # exposed so output guards can recognise an abstention without citations.
    abstain_text: str | None = None
    changelog: str = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is not a valid prompt name (pattern {NAME_PATTERN.pattern})"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            raise ValueError(f"{value!r} is not MAJOR.MINOR.PATCH (for example 1.0.0)")
        return value

    @field_validator("guard_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if not POLICY_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a valid policy name")
        return value

    @field_validator("input_variables")
    @classmethod
    def _variable_names(cls, value: dict[str, InputVariable]) -> dict[str, InputVariable]:
        for name in value:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"{name!r} is not a valid variable name")
        return value

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"
