"""Logistic-regression model files: JSON in the repo, scored with numpy only.

scikit-learn fits the weights at training time (guardrails/training/); at run
time a model is a weight vector, a bias and a decision threshold, so serving
needs no scikit-learn and the file diffs readably in review. The file also
carries its feature spec, the SHA-256 of its training data and its
cross-validated metrics, so a reviewer sees what a threshold was tuned on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guardrails.errors import ModelFileError

FORMAT = "ladder-logreg/1"


@dataclass(frozen=True)
class LinearModel:
    path: Path
    name: str
    weights: np.ndarray
    bias: float
    threshold: float
    feature_spec: dict[str, Any]
    training: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.weights.shape[0])

    def probability(self, features: np.ndarray) -> float:
        if features.shape != self.weights.shape:
            raise ModelFileError(
                self.path,
                f"feature vector has shape {features.shape}, model expects {self.weights.shape}",
            )
        logit = float(features.astype(np.float64) @ self.weights) + self.bias
        # Numerically safe sigmoid for large |logit|.
        if logit >= 0:
            return 1.0 / (1.0 + math.exp(-logit))
        z = math.exp(logit)
        return z / (1.0 + z)


def load_linear_model(path: Path, expected_name: str) -> LinearModel:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(path, "model file is missing; run the training script") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"cannot read model file: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ModelFileError(path, f"not a {FORMAT} model file")
    if raw.get("name") != expected_name:
        raise ModelFileError(path, f"model name is {raw.get('name')!r}, expected {expected_name!r}")
    try:
        weights = np.asarray(raw["weights"], dtype=np.float64)
        bias = float(raw["bias"])
        threshold = float(raw["threshold"])
        spec = dict(raw["feature_spec"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(path, f"model file field missing or malformed: {exc}") from exc
    if weights.ndim != 1 or not np.all(np.isfinite(weights)) or not math.isfinite(bias):
        raise ModelFileError(path, "weights must be a finite 1-D list")
    if not 0.0 <= threshold <= 1.0:
        raise ModelFileError(path, f"threshold {threshold} is outside [0, 1]")
    if int(spec.get("dim", -1)) != weights.shape[0]:
        raise ModelFileError(
            path, f"feature_spec.dim={spec.get('dim')} but there are {weights.shape[0]} weights"
        )
    return LinearModel(
        path=path,
        name=expected_name,
        weights=weights,
        bias=bias,
        threshold=threshold,
        feature_spec=spec,
        training=dict(raw.get("training", {})),
        metrics=dict(raw.get("metrics", {})),
    )
