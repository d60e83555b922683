"""What the registry hands out: a loaded version, and a version chosen for a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prompts.loader import LoadedTemplate
from prompts.lockfile import LockEntry
from prompts.rendering import RenderedPrompt
from prompts.schema import ModelParameters, PromptTemplate

Status = Literal["released", "draft"]


@dataclass(frozen=True)
class PromptVersion:
    """One version file, validated, with its release record (None while a draft)."""

    loaded: LoadedTemplate
    release: LockEntry | None

    @property
    def template(self) -> PromptTemplate:
        return self.loaded.template

    @property
    def name(self) -> str:
        return self.loaded.template.name

    @property
    def version(self) -> str:
        return self.loaded.template.version

    @property
    def ref(self) -> str:
        return self.loaded.ref

    @property
    def sha256(self) -> str:
        return self.loaded.sha256

    @property
    def path(self) -> Path:
        return self.loaded.path

    @property
    def text(self) -> str:
        return self.loaded.text

    @property
    def status(self) -> Status:
        return "released" if self.release is not None else "draft"

    def render(self, **variables: Any) -> RenderedPrompt:
        return self.loaded.render(variables)


@dataclass(frozen=True)
class ResolvedPrompt:
    """The version chosen for one request and how it was chosen.

    ``label`` is "production", "candidate (canary)", "pinned", or the name of a
    label the caller asked for explicitly.
    """

    name: str
    version: str
    content_hash: str
    label: str
    parameters: ModelParameters
    guard_policy: str
    abstain_text: str | None
    source: PromptVersion = field(repr=False, compare=False)

    @classmethod
    def of(cls, source: PromptVersion, label: str) -> ResolvedPrompt:
        template = source.template
        return cls(
            name=template.name,
            version=template.version,
            content_hash=source.sha256,
            label=label,
            parameters=template.parameters,
            guard_policy=template.guard_policy,
            abstain_text=template.abstain_text,
            source=source,
        )

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, **variables: Any) -> RenderedPrompt:
        """Render with exactly the declared variables; raises PromptRenderError."""
        return self.source.render(**variables)
