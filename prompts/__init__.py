"""Versioned prompt templates: validated at load, immutable once released, served by label.

Entry point: ``PromptRegistry`` (prompts/registry.py). See prompts/README.md.
"""

from prompts.errors import (
    GateRefused,
    PromptEdited,
    PromptError,
    PromptNotFound,
    PromptRenderError,
    RegistryError,
    TemplateValidationError,
)
from prompts.gate import GateResult, ReleaseGate
from prompts.registry import PromptRegistry
from prompts.rendering import RenderedPrompt
from prompts.versions import PromptVersion, ResolvedPrompt

__all__ = [
    "GateRefused",
    "GateResult",
    "PromptEdited",
    "PromptError",
    "PromptNotFound",
    "PromptRegistry",
    "PromptRenderError",
    "PromptVersion",
    "RegistryError",
    "ReleaseGate",
    "RenderedPrompt",
    "ResolvedPrompt",
    "TemplateValidationError",
]
