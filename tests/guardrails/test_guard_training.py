"""The committed model files can be reproduced from their training data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from guardrails.training.common import file_sha256

ROOT = Path(__file__).resolve().parents[2]
INJECTION_MODEL = ROOT / "guardrails" / "models" / "injection_lr.json"
SCOPE_MODEL = ROOT / "guardrails" / "models" / "scope_lr.json"


def _train_csv(shared_dir: Path) -> Path:
    path = shared_dir / "datasets" / "prompt-injections" / "train.csv"
    if not path.is_file():
        pytest.fail(f"training data missing: {path}")
    return path


def test_injection_model_was_trained_on_this_train_csv(shared_dir: Path) -> None:
    committed = json.loads(INJECTION_MODEL.read_text())
    assert committed["training"]["data_sha256"] == file_sha256(_train_csv(shared_dir))


def test_scope_model_was_trained_on_the_committed_scope_set() -> None:
    committed = json.loads(SCOPE_MODEL.read_text())
    assert committed["training"]["data_sha256"] == file_sha256(
        ROOT / "guardrails" / "data" / "scope_labelled.jsonl"
    )


def test_repeated_cross_validation_pools_every_split() -> None:
    from guardrails.training.train_injection import CV_REPEATS, MAX_FPR, cross_validate

    # Two noisy clusters: separable enough for a sensible threshold, noisy enough
    # that fold splits disagree.
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    features = rng.normal(size=(80, 5)) + labels[:, np.newaxis] * 1.5
    overrides = np.zeros(80)
    overrides[0] = 0.95  # a strong rule on a benign row is an unavoidable false positive
    result = cross_validate(features, labels, overrides, 1.0, None)
    counts = result["tp"] + result["fp"] + result["fn"] + result["tn"]  # type: ignore[operator]
    assert counts == CV_REPEATS * 80
    assert result["fp"] >= CV_REPEATS  # the rule row is flagged in every repeat
    assert result["fpr"] <= MAX_FPR  # type: ignore[operator]
    assert 0.0 < result["threshold"] < 1.0  # type: ignore[operator]
    assert len(result["f1_per_repeat"]) == CV_REPEATS  # type: ignore[arg-type]
    assert result["f1"] > 0.7  # type: ignore[operator]


@pytest.mark.slow
def test_retraining_injection_reproduces_the_committed_weights(shared_dir: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from guardrails.training.train_injection import train

    committed = json.loads(INJECTION_MODEL.read_text())
    chosen = (committed["training"]["C"], committed["training"]["class_weight"])
    # The full grid search takes minutes; re-fitting the chosen point checks the
    # features, the cross-validated threshold and the final weights.
    fresh = train(_train_csv(shared_dir), embedder, grid_points=[chosen])
    assert np.allclose(fresh["weights"], committed["weights"], atol=1e-4)
    assert abs(fresh["bias"] - committed["bias"]) < 1e-4
    assert abs(fresh["threshold"] - committed["threshold"]) < 1e-3
    assert fresh["feature_spec"] == committed["feature_spec"]


@pytest.mark.slow
def test_retraining_scope_reproduces_the_committed_weights(embedder) -> None:  # type: ignore[no-untyped-def]
    from guardrails.training.train_scope import DEFAULT_DATA, train

    committed = json.loads(SCOPE_MODEL.read_text())
    fresh = train(DEFAULT_DATA, embedder)
    assert np.allclose(fresh["weights"], committed["weights"], atol=1e-4)
    assert abs(fresh["threshold"] - committed["threshold"]) < 1e-3
    assert fresh["metrics"]["dev_off_topic"] == committed["metrics"]["dev_off_topic"]
