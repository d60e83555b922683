"""Shared training helpers: deterministic logistic regression, CV thresholds, model files.

Only the training scripts import this module (it needs scikit-learn, a dev
dependency); serving reads the JSON it writes with ``guardrails.linear``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from guardrails.linear import FORMAT

SEED = 13
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fit_logreg(
    features: np.ndarray, labels: np.ndarray, c: float, class_weight: str | None
) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    # lbfgs on a fixed design matrix is deterministic: no random_state needed,
    # but it is set so a future solver change cannot silently add randomness.
    model = LogisticRegression(
        C=c, class_weight=class_weight, max_iter=5000, tol=1e-8, random_state=SEED
    )
    model.fit(features, labels)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def out_of_fold_probabilities(
    features: np.ndarray,
    labels: np.ndarray,
    c: float,
    class_weight: str | None,
    folds: int = 5,
    seed: int = SEED,
) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    probabilities = np.zeros(len(labels), dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, held_idx in splitter.split(features, labels):
        weights, bias = fit_logreg(features[train_idx], labels[train_idx], c, class_weight)
        probabilities[held_idx] = sigmoid(features[held_idx] @ weights + bias)
    return probabilities


def repeated_out_of_fold_probabilities(
    features: np.ndarray,
    labels: np.ndarray,
    c: float,
    class_weight: str | None,
    repeats: int,
    folds: int = 5,
) -> np.ndarray:
    """Shape (repeats, rows): out-of-fold probabilities for ``repeats`` fold splits
    (seeds SEED, SEED+1, ...). One 5-fold split of a few hundred rows moves F1 by
    +-0.02 from seed to seed; repeating it lets a real difference show through."""
    return np.vstack(
        [
            out_of_fold_probabilities(features, labels, c, class_weight, folds, SEED + repeat)
            for repeat in range(repeats)
        ]
    )


def binary_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    labels = labels.astype(bool)
    predicted = predicted.astype(bool)
    tp = int(np.sum(labels & predicted))
    fp = int(np.sum(~labels & predicted))
    fn = int(np.sum(labels & ~predicted))
    tn = int(np.sum(~labels & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "fpr": round(fpr, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def pick_threshold(labels: np.ndarray, scores: np.ndarray, max_fpr: float) -> float:
    """The threshold with the best F1 among those whose false-positive rate is <= max_fpr.

    It sits halfway between the two neighbouring scores rather than on one, so a
    tiny float difference between training and serving cannot flip a decision.
    """
    candidates = np.unique(scores)
    best_threshold, best_key = 0.5, (-1.0, 0.0)
    for low, high in zip(np.concatenate([[0.0], candidates[:-1]]), candidates, strict=True):
        threshold = float((low + high) / 2)
        metrics = binary_metrics(labels, scores >= threshold)
        if metrics["fpr"] > max_fpr:
            continue
        # Prefer the higher threshold on ties (fewer false alarms in production).
        key = (metrics["f1"], threshold)
        if key > best_key:
            best_threshold, best_key = threshold, key
    return round(best_threshold, 6)


def write_model_file(path: Path, payload: dict[str, Any]) -> None:
    payload = {"format": FORMAT, **payload}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
        handle.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; the file is committed and read by the service
    os.replace(tmp, path)


def rounded(values: np.ndarray, digits: int = 8) -> list[float]:
    # 8 significant decimals keep the file small and diff-stable; the
    # reproducibility test compares with a tolerance well above this.
    return [round(float(v), digits) for v in values]
