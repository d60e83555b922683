"""The guard pipeline the gateway calls: ``check_input`` before retrieval, ``check_output`` after.

    pipeline = GuardPipeline.from_settings(settings.guards, embedder)   # cheap
    pipeline.warm_up()                                                  # lifespan
    verdict_in = pipeline.check_input(messages, audience="employee",
                                      policy_name=prompt.guard_policy)
    if verdict_in.stopped: ...  # answer verdict_in.refusal_reason (code: refusal_code)
    hits = retriever.search(verdict_in.retrieval_query, embedding=verdict_in.query_embedding)
    answer = provider(...)      # sees verdict_in.redacted_messages only
    verdict_out = pipeline.check_output(answer, chunks, verdict_in, system_prompt=...,
                                        secrets=[...], abstain_text=prompt.abstain_text)
    reply(verdict_out.final_text)

Guards run in a fixed order; each reads its settings from the policy section of
the same name, so a new guard is a new policy field plus an entry in the list.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import SecretStr

from guardrails.base import Guard, GuardResult, Verdict
from guardrails.context import InputContext, LimitSettings, OutputContext, SourceChunk
from guardrails.errors import GuardInputError, ModelNeeded
from guardrails.grounding import CitationGuard, GroundingGuard
from guardrails.injection.guard import InjectionGuard
from guardrails.leaks import PiiLeakGuard, SecretLeakGuard, SystemPromptLeakGuard
from guardrails.limits import LimitsGuard
from guardrails.pii.detector import detect_pii
from guardrails.pii.guard import PiiGuard
from guardrails.pii.redactor import PiiMap, canonical
from guardrails.policy import Policy, PolicySet, load_policies
from guardrails.scope import ScopeClassifier, ScopeGuard
from retrieval.embedding.base import Embedder

ROLES = frozenset({"system", "user", "assistant", "tool"})
DEFAULT_REFUSAL = "I can't answer that from the role blueprints I have."
_STOPPING = {"block": "blocked", "refuse": "refused"}


@dataclass
class InputOutcome:
    verdicts: list[Verdict]
    blocked: bool
    refused: bool
    refusal_reason: str | None  # plain words for the user
    refusal_code: str | None  # e.g. prompt_injection, off_topic, message_too_long
    redacted_messages: list[dict[str, str]]
    retrieval_query: str  # redacted, normalized last user message: what to search with
    query_embedding: np.ndarray | None  # of retrieval_query; reuse it for dense retrieval
    embedded_text: str | None  # the text query_embedding belongs to (None: no embedding)
    embedding_computed: bool  # True when the pipeline embedded (none was passed in)
    embedding_ms: float
    pii_map: PiiMap = field(repr=False)  # in memory only: never log, trace or store it
    # The caller's own search text and its vector, when ``companion_query`` was given
    # and the text differs from retrieval_query (see InputContext.companion).
    companion_text: str | None = None
    companion_embedding: np.ndarray | None = None
    audience: str = "employee"
    prompt_version: str | None = None
    policy_name: str = "default"
    _input_pii: frozenset[tuple[str, str]] | None = field(default=None, repr=False)

    @property
    def stopped(self) -> bool:
        return self.blocked or self.refused

    def input_pii(self) -> frozenset[tuple[str, str]]:
        """Canonical PII values in the (redacted) input: echoing them is not a leak.
        Computed once per request, not once per streamed sentence."""
        if self._input_pii is None:
            self._input_pii = frozenset(
                (span.type, canonical(span.type, span.text))
                for message in self.redacted_messages
                for span in detect_pii(message.get("content", ""))
            )
        return self._input_pii

    @property
    def warnings(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.triggered and v.action == "warn"]


@dataclass
class OutputOutcome:
    final_text: str
    verdicts: list[Verdict]
    refused: bool
    refusal_reason: str | None
    refusal_code: str | None
    removed_sentences: list[str] = field(default_factory=list)


def _plain_task_as_off_topic(
    stop: tuple[str, GuardResult] | None, stops: dict[str, tuple[str, GuardResult]]
) -> tuple[str, GuardResult] | None:
    """An off-topic command ("Write a poem about cats.") scores as an injection on the
    classifier alone: its training data counts every task request to a bot as one. When
    no attack rule and no obfuscation fired and the scope guard refuses it too, the user
    reads the off-topic refusal (with what ladder can answer) instead of an accusation.
    The request is stopped either way; both verdicts stay in the response."""
    if stop is None or "injection" not in stops or "scope" not in stops or stop[1] is not stops["injection"][1]:
        return stop
    if any(r.startswith(("rule:", "obfuscation:")) for r in stops["injection"][1].reasons):
        return stop
    return stops["scope"]


def _validate_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise GuardInputError("messages must be a non-empty list of {role, content} objects")
    checked = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise GuardInputError(f"messages[{index}] must be an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise GuardInputError(f"messages[{index}].role must be one of {sorted(ROLES)}")
        if not isinstance(content, str):
            raise GuardInputError(f"messages[{index}].content must be a string")
        checked.append(dict(message))
    if not any(m["role"] == "user" for m in checked):
        raise GuardInputError("messages must contain at least one user message")
    return checked


def _as_chunk(item: SourceChunk | Mapping[str, Any] | Any, position: int) -> SourceChunk:
    if isinstance(item, SourceChunk):
        return item
    if isinstance(item, tuple):
        # (marker, chunk_id, text) or (chunk_id, text)
        if len(item) == 3 and isinstance(item[1], str) and isinstance(item[2], str):
            return SourceChunk(item[1], item[2], None if item[0] is None else int(item[0]))
        if len(item) == 2 and all(isinstance(part, str) for part in item):
            return SourceChunk(item[0], item[1])
        raise GuardInputError(
            f"chunks[{position}] must be (marker, chunk_id, text) or (chunk_id, text)"
        )
    if isinstance(item, Mapping):
        get = item.get
    else:  # RetrievedChunk / Citation-like objects

        def get(key: str, default: Any = None) -> Any:
            return getattr(item, key, default)

    chunk_id = get("id") or get("chunk_id")
    text = get("text") or get("quote")
    if not chunk_id or text is None:
        raise GuardInputError(f"chunks[{position}] needs an id (or chunk_id) and text")
    embedding = get("embedding")
    return SourceChunk(
        str(chunk_id),
        str(text),
        get("marker"),
        None if embedding is None else np.asarray(embedding, dtype=np.float32),
    )


class GuardPipeline:
    def __init__(
        self,
        policies: PolicySet,
        embedder: Embedder,
        limits: LimitSettings,
        *,
        input_guards: Sequence[Guard[Any, Any]] | None = None,
        output_guards: Sequence[Guard[Any, Any]] | None = None,
    ) -> None:
        self.policies = policies
        self.embedder = embedder
        self.limits = limits
        scope = ScopeClassifier()  # one instance: the injection guard consults it too
        self.input_guards = list(
            input_guards
            or [LimitsGuard(), PiiGuard(), InjectionGuard(scope=scope), ScopeGuard(scope)]
        )
        self.output_guards = list(
            output_guards
            or [
                SecretLeakGuard(),
                PiiLeakGuard(),
                SystemPromptLeakGuard(),
                CitationGuard(),
                GroundingGuard(),
            ]
        )

    @classmethod
    def from_settings(cls, guard_settings: Any, embedder: Embedder) -> GuardPipeline:
        """``guard_settings`` is ``Settings.guards`` (policy_dir plus the three limits)."""
        return cls(load_policies(guard_settings.policy_dir), embedder, guard_settings)

    def warm_up(self) -> None:
        self.embedder.warm_up()
        for guard in [*self.input_guards, *self.output_guards]:
            guard.warm_up()

    def retrieval_query(
        self,
        messages: list[dict[str, str]],
        audience: str = "employee",
        prompt_version: str | None = None,
        policy_name: str = "default",
    ) -> str:
        """The text ``check_input`` embeds, for callers that embed (or cache) it themselves."""
        policy = self.policies.resolve(audience, prompt_version, policy_name)
        context = InputContext(_validate_messages(messages), self.limits, self.embedder)
        pii = next(g for g in self.input_guards if g.name == "pii")
        if policy.input.pii.enabled and policy.input.pii.action == "redact":
            pii.check(context, policy.input.pii, True)
        return context.retrieval_query

    def check_input(
        self,
        messages: list[dict[str, str]],
        audience: str = "employee",
        prompt_version: str | None = None,
        query_embedding: np.ndarray | None = None,
        policy_name: str = "default",
        companion_query: Callable[[list[dict[str, str]], str], str] | None = None,
        allow_model: bool = True,
        embedded: Mapping[str, np.ndarray] | None = None,
    ) -> InputOutcome:
        """``allow_model=False``: vectors come only from the embedder's cache or from
        ``embedded`` (text -> vector, e.g. computed in a worker thread after a first run
        raised ``ModelNeeded`` naming those texts), so the run never blocks on the model
        and can be made on an event loop."""
        policy = self.policies.resolve(audience, prompt_version, policy_name)
        embedder: Embedder = self.embedder
        if embedded or not allow_model:
            embedder = _EmbedderView(self.embedder, allow_model=allow_model, known=embedded)  # type: ignore[assignment]
        context = InputContext(
            _validate_messages(messages), self.limits, embedder, companion=companion_query
        )
        if query_embedding is not None:
            context.query_embedding = np.asarray(query_embedding, dtype=np.float32).reshape(-1)
        verdicts: list[Verdict] = []
        stop: tuple[str, GuardResult] | None = None
        stops: dict[str, tuple[str, GuardResult]] = {}
        embedding_ms = 0.0
        for guard in self.input_guards:
            config = getattr(policy.input, guard.name)
            if not config.enabled:
                continue
            had_embedding = context.query_embedding is not None
            started = time.perf_counter()
            result = guard.check(context, config, config.action in ("redact", "remove"))
            if result.triggered and config.action in _STOPPING:
                stops[guard.name] = (config.action, result)
            elapsed = (time.perf_counter() - started) * 1000
            if not had_embedding and context.query_embedding is not None:
                # Report the shared embedding separately: it is the gateway's cost, not a guard's.
                embedding_ms = context.embedding_ms
                elapsed = max(0.0, elapsed - embedding_ms)
            verdicts.append(_verdict(guard.name, "input", result, config.action, elapsed))
            if result.triggered and config.action in _STOPPING and stop is None:
                stop = (config.action, result)
                if guard.name == "limits":
                    break  # do not scan or embed an oversized request
        stop = _plain_task_as_off_topic(stop, stops)
        return InputOutcome(
            verdicts=verdicts,
            blocked=stop is not None and stop[0] == "block",
            refused=stop is not None and stop[0] == "refuse",
            refusal_reason=None if stop is None else (stop[1].user_message or DEFAULT_REFUSAL),
            refusal_code=None if stop is None else stop[1].code,
            redacted_messages=context.redacted,
            retrieval_query=context.retrieval_query,
            query_embedding=context.query_embedding,
            embedded_text=None if context.query_embedding is None else context.retrieval_query,
            embedding_computed=context.computed_embedding,
            embedding_ms=round(embedding_ms, 3),
            pii_map=context.pii_map,
            companion_text=context.companion_text,
            companion_embedding=context.companion_embedding,
            audience=audience,
            prompt_version=prompt_version,
            policy_name=policy_name,
        )

    def check_output(
        self,
        answer: str,
        chunks: Sequence[SourceChunk | Mapping[str, Any] | Any],
        input_outcome: InputOutcome,
        system_prompt: str = "",
        secrets: Sequence[str | SecretStr | None] = (),
        audience: str | None = None,
        prompt_version: str | None = None,
        policy_name: str | None = None,
        abstain_text: str | None = None,
        streaming: bool = False,
        allow_model: bool = True,
        embedded: Mapping[str, np.ndarray] | None = None,
    ) -> OutputOutcome:
        """Check an answer, or with ``streaming=True`` one streamed piece of it (a sentence):
        answer-level rules (refuse when most claims are unsupported, refuse when nothing is
        left) are skipped, so an unsupported piece comes back empty instead of refused.

        With ``allow_model=False`` a check that needs the embedding model raises
        ``ModelNeeded`` instead of calling it: most answers are settled by lexical
        support alone, cheaply enough to check on an event loop, and only the rest
        need the model's vectors, which the caller can compute off the loop and pass in
        ``embedded`` (text -> vector) for a second run, as with ``check_input``."""
        policy: Policy = self.policies.resolve(
            audience or input_outcome.audience,
            prompt_version or input_outcome.prompt_version,
            policy_name or input_outcome.policy_name,
        )
        refusal = abstain_text or DEFAULT_REFUSAL
        context = OutputContext(
            text=answer,
            chunks=[_as_chunk(item, i) for i, item in enumerate(chunks)],
            embedder=(
                self.embedder if allow_model and not embedded
                else _EmbedderView(self.embedder, allow_model=allow_model, known=embedded)
            ),
            system_prompt=system_prompt,
            secrets=[s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets if s],
            pii_map=input_outcome.pii_map,
            input_pii=input_outcome.input_pii(),
            abstain_texts=[text for text in (abstain_text, DEFAULT_REFUSAL) if text],
        )
        verdicts: list[Verdict] = []
        stop: GuardResult | None = None
        for guard in self.output_guards:
            config = getattr(policy.output, guard.name)
            if not config.enabled:
                continue
            started = time.perf_counter()
            result = guard.check(context, config, config.action in ("redact", "remove"))
            elapsed = (time.perf_counter() - started) * 1000
            action = config.action
            # Trimming cannot save an answer that is mostly unsupported.
            if result.code == "ungrounded" and action == "remove":
                if streaming:
                    context.removed_sentences.append(context.text)
                    context.text = ""
                else:
                    action = "refuse"
            verdicts.append(_verdict(guard.name, "output", result, action, elapsed))
            if result.triggered and action in _STOPPING and stop is None:
                stop = result
        if stop is None and not streaming and answer.strip() and not context.text.strip():
            stop = GuardResult(True, code="nothing_left")
        return OutputOutcome(
            final_text=refusal if stop else context.text,
            verdicts=verdicts,
            refused=stop is not None,
            refusal_reason=refusal if stop else None,
            refusal_code=stop.code if stop else None,
            removed_sentences=context.removed_sentences,
        )


class _EmbedderView:
    """What one check run embeds with: vectors the caller already has (``known``), then
    either the embedder itself or, with ``allow_model=False``, only its cache (an
    embedder with a ``cached`` method); anything else raises ``ModelNeeded``."""

    def __init__(
        self, inner: Embedder, *, allow_model: bool, known: Mapping[str, np.ndarray] | None = None
    ) -> None:
        self._inner = inner
        self._allow_model = allow_model
        self._known = known or {}
        self.name = inner.name
        self.dim = inner.dim

    def warm_up(self) -> None:
        self._inner.warm_up()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        if items and all(text in self._known for text in items):
            return np.stack([np.asarray(self._known[text], dtype=np.float32) for text in items])
        if self._allow_model:
            return self._inner.embed(items)
        lookup = getattr(self._inner, "cached", None)
        vectors = lookup(items) if lookup is not None else None
        if vectors is None:
            raise ModelNeeded(items)
        return vectors


def _verdict(name: str, stage: str, result: GuardResult, action: str, elapsed_ms: float) -> Verdict:
    return Verdict(
        guard=name,
        stage=stage,  # type: ignore[arg-type]
        triggered=result.triggered,
        action=action if result.triggered else "allow",  # type: ignore[arg-type]
        score=result.score,
        threshold=result.threshold,
        reasons=result.reasons,
        latency_ms=round(elapsed_ms, 3),
    )
