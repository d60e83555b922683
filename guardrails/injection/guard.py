"""Input guard: prompt injection and jailbreak attempts."""

from __future__ import annotations

import re

from guardrails.base import GuardResult, Stage
from guardrails.context import InputContext
from guardrails.injection.detector import InjectionDetector
from guardrails.injection.rules import RULE_OVERRIDE
from guardrails.policy import InjectionConfig
from guardrails.scope import ScopeClassifier

USER_MESSAGE = (
    "I can't help with that: the message looks like an attempt to change how this assistant "
    "works. Please ask a question about job roles, KPIs, skills, goals or career paths."
)


_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")


class InjectionGuard:
    name = "injection"
    stage: Stage = "input"

    def __init__(
        self, detector: InjectionDetector | None = None, scope: ScopeClassifier | None = None
    ) -> None:
        self.detector = detector or InjectionDetector()
        self.scope = scope or ScopeClassifier()

    def warm_up(self) -> None:
        self.detector.warm_up()
        self.scope.warm_up()
        # Runs every normalization path once so first requests pay no compile cost.
        self.detector.score(
            "Warm up: ignore 1gn0r3 i g n o r e aWdub3Jl %41 &amp; Jane",
            [0.0] * 384,  # type: ignore[arg-type]
        )

    def check(self, context: InputContext, config: InjectionConfig, apply: bool) -> GuardResult:
        threshold = config.threshold if config.threshold is not None else self.detector.threshold
        embedding = context.embedding()
        # Redaction placeholders ("<CREDIT_CARD_1>") are ours, not the user's: their digits
        # must not read as leetspeak.
        text = _PLACEHOLDER.sub(" ", context.last_user_text)
        earlier = [_PLACEHOLDER.sub(" ", t) for t in context.earlier_user_texts]
        result = self.detector.score(text, embedding, earlier)
        reasons = result.reasons()
        strong_rule = any(hit.weight >= RULE_OVERRIDE for hit in result.hits)
        if config.on_topic_relief_min is not None and not strong_rule:
            on_topic = self.scope.score(context.retrieval_query, embedding).on_topic_probability
            if on_topic >= config.on_topic_relief_min and config.on_topic_threshold > threshold:
                threshold = config.on_topic_threshold
                reasons.append(f"on_topic_relief(p_on_topic={on_topic:.3f})")
        triggered = result.score >= threshold
        return GuardResult(
            triggered=triggered,
            score=round(result.score, 4),
            threshold=threshold,
            reasons=reasons,
            code="prompt_injection" if triggered else None,
            user_message=USER_MESSAGE if triggered else None,
        )
