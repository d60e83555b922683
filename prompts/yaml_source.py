"""YAML parsing that remembers where every value came from.

pydantic reports errors by field path (``("parameters", "temperature")``); to point
an author at the offending line we compose PyYAML's node tree once and keep, for
every path, the line of its key and its value node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from prompts.errors import TemplateValidationError

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """Where a value sits in the file: 1-based lines of its key and of its value node."""

    key_line: int
    value_line: int
    node: yaml.Node


@dataclass
class YamlDocument:
    path: Path
    data: dict[str, Any]
    locations: dict[PathKey, Located] = field(default_factory=dict)

    def line_for(self, loc: PathKey, *, prefer_key: bool = True) -> int:
        """Best line for a path: the deepest ancestor that exists in the file.

        A missing field has no line of its own, so it is reported at the mapping
        that should have contained it.
        """
        probe = tuple(loc)
        while probe:
            found = self.locations.get(probe)
            if found is not None:
                return found.key_line if prefer_key else found.value_line
            probe = probe[:-1]
        return 1

    def template_line(self, key: str, template_line: int) -> int:
        """Map a line inside a template string (1-based) to a line of the YAML file.

        Literal block scalars (``|``) keep lines one-to-one, so the mapping is exact;
        for folded or quoted scalars lines are joined and we can only name the start.
        """
        found = self.locations.get((key,))
        if found is None:
            return 1
        node = found.node
        style = getattr(node, "style", None)
        if style == "|":
            # start_mark is the indicator line; content starts on the next line.
            return int(node.start_mark.line) + 1 + template_line
        return found.value_line


def _walk(node: yaml.Node, prefix: PathKey, out: dict[PathKey, Located], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise TemplateValidationError(
                    path, line, f"duplicate key {key!r} (first defined on line {seen[key]})"
                )
            seen[key] = line
            child = (*prefix, key)
            out[child] = Located(line, value_node.start_mark.line + 1, value_node)
            _walk(value_node, child, out, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*prefix, index)
            line = item.start_mark.line + 1
            out[child] = Located(line, line, item)
            _walk(item, child, out, path)


def parse_yaml(path: Path, text: str) -> YamlDocument:
    """Parse one YAML mapping, raising TemplateValidationError with the file and line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise TemplateValidationError(path, 1, "the file is empty")
        locations: dict[PathKey, Located] = {}
        _walk(node, (), locations, path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise TemplateValidationError(path, line, f"YAML syntax error: {problem}{context}") from exc
    except yaml.YAMLError as exc:
        raise TemplateValidationError(path, None, f"YAML error: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise TemplateValidationError(
            path, node.start_mark.line + 1, "a prompt template must be a YAML mapping"
        )
    return YamlDocument(path=path, data=data, locations=locations)
