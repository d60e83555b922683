"""Prompt-injection detector: normalization, rules and the learned classifier, combined.

Score = max(classifier probability, weight of any strong rule hit), in [0, 1].
The classifier sees the *last* user message (the one whose embedding the
gateway computed); the rules scan every message the caller sent, because an
instruction planted in an earlier turn is just as dangerous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from guardrails.errors import ModelFileError
from guardrails.injection.features import check_spec, feature_vector
from guardrails.injection.rules import RuleHit, combined_score, scan
from guardrails.linear import LinearModel, load_linear_model
from guardrails.normalize import scan_views

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "injection_lr.json"


@dataclass(frozen=True)
class InjectionScore:
    score: float
    probability: float
    hits: list[RuleHit]
    signals: list[str] = field(default_factory=list)

    def reasons(self) -> list[str]:
        # Rule ids and signal names only: never the user's text, so reasons are safe to log.
        out = [f"classifier_probability={self.probability:.3f}"]
        out += [f"rule:{hit.rule}({hit.weight:.2f}@{hit.view})" for hit in self.hits]
        out += [f"obfuscation:{signal}" for signal in self.signals]
        return out


class InjectionDetector:
    def __init__(self, model_path: Path = DEFAULT_MODEL) -> None:
        self._model_path = model_path
        self._model: LinearModel | None = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        model = load_linear_model(self._model_path, "injection")
        problem = check_spec(model.feature_spec)
        if problem:
            raise ModelFileError(
                self._model_path,
                f"{problem}; retrain it: python -m guardrails.training.train_injection",
            )
        self._model = model
        # Compile the rules now, not on the first request.
        scan(scan_views("warm up"))

    @property
    def model(self) -> LinearModel:
        if self._model is None:
            self.warm_up()
        assert self._model is not None
        return self._model

    @property
    def threshold(self) -> float:
        """The decision threshold tuned by cross-validation on the training split."""
        return self.model.threshold

    def score(
        self, last_message: str, embedding: np.ndarray, earlier_messages: list[str] | None = None
    ) -> InjectionScore:
        views = scan_views(last_message)
        last_hits = scan(views)
        # The classifier was trained on single messages: it sees only the last one.
        probability = self.model.probability(feature_vector(embedding, views.views["clean"]))
        hits = list(last_hits)
        signals = list(views.signals)
        for text in earlier_messages or []:
            earlier = scan_views(text)
            hits += scan(earlier)
            signals += earlier.signals
        unique = {hit.rule: hit for hit in sorted(hits, key=lambda h: h.weight)}
        hits = sorted(unique.values(), key=lambda h: (-h.weight, h.rule))
        return InjectionScore(
            score=combined_score(probability, hits),
            probability=probability,
            hits=hits,
            signals=sorted(set(signals)),
        )
