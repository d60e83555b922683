"""The benchmark's nDCG and recall against hand computations."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "ir_metrics.py"
_spec = importlib.util.spec_from_file_location("bench_ir_metrics", _PATH)
assert _spec and _spec.loader
metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(metrics)


def test_ndcg_hand_computed() -> None:
    # Relevant: a (grade 2), b (grade 1). Ranking: x, a, y, b.
    # DCG  = 2/log2(3) + 1/log2(5);  IDCG = 2/log2(2) + 1/log2(3)
    expected = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3))
    assert metrics.ndcg_at_k(["x", "a", "y", "b"], {"a": 2, "b": 1}, k=10) == pytest.approx(
        expected
    )
    # = (1.26186 + 0.43068) / (2 + 0.63093) = 1.69254 / 2.63093
    assert expected == pytest.approx(0.6433, abs=1e-4)


def test_ndcg_cutoff_and_edges() -> None:
    qrels = {"a": 1, "b": 1}
    assert metrics.ndcg_at_k(["a", "b"], qrels, k=10) == pytest.approx(1.0)
    # Only the first position counts at k=1; the ideal at k=1 is one relevant doc.
    assert metrics.ndcg_at_k(["x", "a"], qrels, k=1) == 0.0
    assert metrics.ndcg_at_k(["a", "x"], qrels, k=1) == pytest.approx(1.0)
    # k=2, ranking b at 2: DCG = 1/log2(3), IDCG = 1 + 1/log2(3)
    assert metrics.ndcg_at_k(["x", "b"], qrels, k=2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )
    assert metrics.ndcg_at_k(["a"], {}, k=10) == 0.0
    assert metrics.ndcg_at_k(["a"], {"a": 0}, k=10) == 0.0


def test_recall() -> None:
    assert metrics.recall_at_k(["a", "x", "b"], {"a": 1, "b": 1, "c": 1}, k=2) == pytest.approx(
        1 / 3
    )
    assert metrics.recall_at_k(["a", "x", "b"], {"a": 1, "b": 1, "c": 1}, k=100) == pytest.approx(
        2 / 3
    )
    assert metrics.recall_at_k([], {}, k=10) == 0.0
