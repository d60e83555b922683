"""Guard policies: which guards run, at what threshold, with which action.

One YAML file per policy in guardrails/policies/. A policy has a ``name``
(what a prompt template's ``guard_policy:`` refers to: "default",
"strict-citations"), the ``audiences`` it serves (employee, manager,
evaluator, or "*"), and optionally the ``prompt_versions`` it is pinned to.
Every model forbids unknown fields, so a typo ("treshold") fails at start-up
with the file and the field named, instead of silently running a default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from guardrails.base import Action
from guardrails.errors import GuardInputError, PolicyError

EntityName = Literal["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IP_ADDRESS", "PERSON"]
ALL_ENTITIES: tuple[EntityName, ...] = get_args(EntityName)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GuardConfig(_Strict):
    allowed_actions: ClassVar[tuple[str, ...]] = ("block", "refuse", "warn", "log")

    enabled: bool = True
    action: Action = "log"

    @field_validator("action")
    @classmethod
    def _action_allowed(cls, value: str) -> str:
        if value not in cls.allowed_actions:
            raise ValueError(
                f"{value!r} is not an action this guard can take; choose one of "
                + ", ".join(cls.allowed_actions)
            )
        return value


class LimitsConfig(GuardConfig):
    """The limits themselves come from settings (GuardSettings); the policy picks the action."""

    action: Action = "refuse"


class InjectionConfig(GuardConfig):
    action: Action = "block"
    # None: use the threshold tuned by cross-validation and stored in the model file.
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # The classifier learned from deepset data, where *any* task request to a news
    # bot is an injection ("summarize ...", "act as ..."). In ladder such requests
    # are fine when they are clearly about roles, so when the scope classifier is
    # this sure the message is on-topic, the classifier (not the rules) must
    # reach ``on_topic_threshold``. None turns the relief off.
    on_topic_relief_min: float | None = Field(default=0.95, ge=0.0, le=1.0)
    on_topic_threshold: float = Field(default=0.9, ge=0.0, le=1.0)


class PiiConfig(GuardConfig):
    allowed_actions: ClassVar[tuple[str, ...]] = ("redact", "block", "refuse", "warn", "log")
    action: Action = "redact"
    entities: list[EntityName] = Field(default_factory=lambda: list(ALL_ENTITIES))


class ScopeConfig(GuardConfig):
    action: Action = "refuse"
    # Minimum on-topic probability; None: the value tuned on the scope set.
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # "and for the senior role?" after an on-topic turn is a follow-up, not off-topic.
    followup_max_words: int = Field(default=8, ge=0, le=50)


class CitationsConfig(GuardConfig):
    allowed_actions: ClassVar[tuple[str, ...]] = ("remove", "refuse", "warn", "log")
    action: Action = "remove"


class GroundingConfig(GuardConfig):
    allowed_actions: ClassVar[tuple[str, ...]] = ("remove", "refuse", "warn", "log")
    action: Action = "remove"
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # Support = lexical_weight * content-word recall + (1 - lexical_weight) * cosine.
    lexical_weight: float = Field(default=0.6, ge=0.0, le=1.0)
    require_citations: bool = True
    # Sentences with fewer content words are connective text ("Here is what I found:").
    min_content_words: int = Field(default=3, ge=1, le=20)
    # Refuse instead of trimming when more than this share of claims is unsupported.
    max_removed_fraction: float = Field(default=0.5, ge=0.0, le=1.0)


class SystemPromptLeakConfig(GuardConfig):
    allowed_actions: ClassVar[tuple[str, ...]] = ("refuse", "remove", "warn", "log")
    action: Action = "refuse"
    # Word n-gram length that counts as copying (shorter runs occur by chance).
    min_ngram: int = Field(default=8, ge=3, le=50)


class PiiLeakConfig(GuardConfig):
    allowed_actions: ClassVar[tuple[str, ...]] = ("redact", "refuse", "warn", "log")
    action: Action = "redact"


class SecretLeakConfig(GuardConfig):
    allowed_actions: ClassVar[tuple[str, ...]] = ("redact", "refuse", "warn", "log")
    action: Action = "redact"


class InputPolicy(_Strict):
    limits: LimitsConfig = LimitsConfig()
    pii: PiiConfig = PiiConfig()
    injection: InjectionConfig = InjectionConfig()
    scope: ScopeConfig = ScopeConfig()


class OutputPolicy(_Strict):
    secret_leak: SecretLeakConfig = SecretLeakConfig()
    pii_leak: PiiLeakConfig = PiiLeakConfig()
    system_prompt_leak: SystemPromptLeakConfig = SystemPromptLeakConfig()
    citations: CitationsConfig = CitationsConfig()
    grounding: GroundingConfig = GroundingConfig()


_NAME = r"^[a-z][a-z0-9_.-]*$"


class Policy(_Strict):
    # The name prompt templates refer to with ``guard_policy:`` ("default", "strict-citations").
    name: str = Field(min_length=1, pattern=_NAME)
    audiences: list[str] = Field(min_length=1)
    prompt_versions: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    description: str = ""
    input: InputPolicy = InputPolicy()
    output: OutputPolicy = OutputPolicy()

    @field_validator("audiences")
    @classmethod
    def _audience_names(cls, value: list[str]) -> list[str]:
        for audience in value:
            if audience != "*" and not re.match(_NAME, audience):
                raise ValueError(
                    f"{audience!r} is not an audience name (lower-case, e.g. employee)"
                )
        return value

    @model_validator(mode="after")
    def _wildcards_alone(self) -> Policy:
        for field_name in ("audiences", "prompt_versions"):
            values = getattr(self, field_name)
            if "*" in values and len(values) > 1:
                raise ValueError(f"{field_name}: '*' must stand alone")
        return self


class PolicySet:
    """All loaded policies, resolved by (policy name, audience, prompt version).

    The most specific match wins: an exact audience beats ``"*"``, then an exact
    prompt version beats ``"*"``.
    """

    def __init__(self, policies: Iterable[tuple[Path, Policy]]) -> None:
        self._by_key: dict[tuple[str, str, str], Policy] = {}
        self._sources: dict[tuple[str, str, str], Path] = {}
        for source, policy in policies:
            for audience in policy.audiences:
                for version in policy.prompt_versions:
                    key = (policy.name, audience, version)
                    if key in self._by_key:
                        raise PolicyError(
                            source,
                            [
                                (
                                    f"policy {key[0]!r} for audience {key[1]!r} and prompt version "
                                    f"{key[2]!r} is also defined in {self._sources[key]}"
                                )
                            ],
                        )
                    self._by_key[key] = policy
                    self._sources[key] = source

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _, _ in self._by_key})

    @property
    def audiences(self) -> list[str]:
        return sorted({audience for _, audience, _ in self._by_key})

    def resolve(
        self, audience: str, prompt_version: str | None = None, name: str = "default"
    ) -> Policy:
        if name not in self.names:
            raise GuardInputError(f"no guard policy named {name!r}; known: {self.names}")
        for audience_key in (audience, "*"):
            for version_key in (prompt_version, "*") if prompt_version else ("*",):
                policy = self._by_key.get((name, audience_key, version_key))
                if policy is not None:
                    return policy
        raise GuardInputError(
            f"guard policy {name!r} has no entry for audience {audience!r} "
            f"(prompt version {prompt_version!r}); audiences: {self.audiences}"
        )

    def sources(self) -> list[Path]:
        return sorted(set(self._sources.values()))


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ())) or "(file)"
    message = str(error.get("msg", "invalid"))
    value = error.get("input")
    shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
    if error.get("type") == "extra_forbidden":
        message = "unknown field"
    return f"{location}: {message}{shown}"


def load_policy_file(path: Path) -> Policy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(path, [f"cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise PolicyError(path, ["the file must hold a mapping (audience:, input:, output:)"])
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(path, [_describe(err) for err in exc.errors()]) from exc  # type: ignore[arg-type]


def load_policies(directory: Path) -> PolicySet:
    """Load and validate every ``*.yaml``/``*.yml`` in ``directory``."""
    if not directory.is_dir():
        raise PolicyError(directory, ["policy directory does not exist"])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise PolicyError(directory, ["no *.yaml policy files found"])
    return PolicySet((path, load_policy_file(path)) for path in files)
