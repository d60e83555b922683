"""Scope: is this a question ladder is for (roles, KPIs, skills, goals, careers, hiring)?

A logistic regression over the query embedding plus two lexical cues,
trained by guardrails/training/train_scope.py on our own labelled set
(guardrails/data/scope_labelled.jsonl). Career questions that are not about a
specific blueprint ("how do I grow into a staff engineer?") are labelled
on-topic on purpose: refusing them would be the worse mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guardrails.base import GuardResult, Stage
from guardrails.context import InputContext
from guardrails.errors import ModelFileError
from guardrails.linear import LinearModel, load_linear_model
from guardrails.policy import ScopeConfig

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "scope_lr.json"
EMBEDDING_DIM = 384

_CAREER = re.compile(
    r"\b(?:roles?|careers?|promot\w*|kpis?|okrs?|skills?|responsibilit\w+|hir(?:e|ing)|interview\w*|"
    r"candidates?|mentor\w*|onboard\w*|levels?|track|blueprints?|job|position|stakeholders?|"
    r"targets?|goals?|30/60/90|\d{2}-day|first \d+ days|competenc\w+|accountabilit\w+|"
    r"aufgaben|fähigkeiten|ziele|rolle|karriere|befördert|einstellung)\b",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"\b(?:engineers?|managers?|leads?|staff|senior|principal|mlops|architects?|"
    r"ic track|individual contributor|data scientists?)\b",
    re.IGNORECASE,
)

REFUSAL = (
    "I can only help with questions about job roles: responsibilities, KPIs and targets, "
    "skills, 30/60/90-day goals, career paths and hiring criteria. "
    'Try asking, for example, "What are the KPIs for a Staff Applied AI Engineer?"'
)


def lexical_cues(text: str) -> list[float]:
    return [float(bool(_CAREER.search(text))), float(bool(_ROLE.search(text)))]


def scope_features(embedding: np.ndarray, text: str) -> np.ndarray:
    embedding = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if embedding.shape[0] != EMBEDDING_DIM:
        raise ValueError(f"embedding has {embedding.shape[0]} dims, expected {EMBEDDING_DIM}")
    return np.concatenate([embedding, np.asarray(lexical_cues(text))])


def default_spec(embedder_name: str) -> dict[str, object]:
    return {
        "embedding": {"dim": EMBEDDING_DIM, "embedder": embedder_name},
        "lexical": ["career_vocabulary", "role_vocabulary"],
        "dim": EMBEDDING_DIM + 2,
        "positive_class": "on_topic",
    }


@dataclass(frozen=True)
class ScopeScore:
    on_topic_probability: float
    cues: list[float]

    def reasons(self) -> list[str]:
        return [
            f"on_topic_probability={self.on_topic_probability:.3f}",
            f"career_vocabulary={int(self.cues[0])}",
            f"role_vocabulary={int(self.cues[1])}",
        ]


class ScopeClassifier:
    def __init__(self, model_path: Path = DEFAULT_MODEL) -> None:
        self._model_path = model_path
        self._model: LinearModel | None = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        model = load_linear_model(self._model_path, "scope")
        expected = default_spec(str(model.feature_spec.get("embedding", {}).get("embedder", "")))
        if (
            model.feature_spec.get("dim") != expected["dim"]
            or model.feature_spec.get("lexical") != expected["lexical"]
        ):
            raise ModelFileError(self._model_path, "feature_spec does not match this code; retrain")
        self._model = model

    @property
    def model(self) -> LinearModel:
        if self._model is None:
            self.warm_up()
        assert self._model is not None
        return self._model

    @property
    def threshold(self) -> float:
        """Minimum on-topic probability, tuned by cross-validation on the scope set's train split."""
        return self.model.threshold

    def score(self, text: str, embedding: np.ndarray) -> ScopeScore:
        probability = self.model.probability(scope_features(embedding, text))
        return ScopeScore(on_topic_probability=probability, cues=lexical_cues(text))


class ScopeGuard:
    """Fires (off-topic) when the on-topic probability is *below* the threshold."""

    name = "scope"
    stage: Stage = "input"

    def __init__(self, classifier: ScopeClassifier | None = None) -> None:
        self.classifier = classifier or ScopeClassifier()

    def warm_up(self) -> None:
        self.classifier.warm_up()

    def check(self, context: InputContext, config: ScopeConfig, apply: bool) -> GuardResult:
        threshold = config.threshold if config.threshold is not None else self.classifier.threshold
        query = context.retrieval_query
        result = self.classifier.score(query, context.embedding())
        reasons = result.reasons()
        triggered = result.on_topic_probability < threshold
        if triggered and self._is_followup(context, query, config.followup_max_words):
            triggered = False
            reasons.append("short_followup_in_on_topic_conversation")
        return GuardResult(
            triggered=triggered,
            score=round(result.on_topic_probability, 4),
            threshold=threshold,
            reasons=reasons,
            code="off_topic" if triggered else None,
            user_message=REFUSAL if triggered else None,
        )

    @staticmethod
    def _is_followup(context: InputContext, query: str, max_words: int) -> bool:
        # "And for the senior role?" has no topic of its own; an earlier user turn
        # about roles or careers gives it one. No second embedding is computed.
        if len(query.split()) > max_words:
            return False
        return any(any(lexical_cues(text)) for text in context.earlier_user_texts)
