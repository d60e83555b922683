from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from evals.metrics.retrieval import (
    MeanReciprocalRank,
    NdcgAtK,
    RecallAtK,
    matches,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    relevance_at_k,
)
from evals.testing import chunk, golden_case, make_result

KPI = "staff/kpis"
GOALS = "staff/goals/30-day"


def test_matching_is_by_section_prefix_on_path_boundaries() -> None:
    assert matches("staff/kpis", "staff/kpis")
    assert matches("staff/kpis/targets", "staff/kpis")
    assert not matches("staff/kpis-extra", "staff/kpis")
    assert not matches("staff", "staff/kpis")


def test_recall_at_k_hand_computed() -> None:
    retrieved = ["x/a", "staff/kpis/table", "y/b", "z/c", "w/d", "staff/goals/30-day"]
    # KPI found at rank 2; GOALS only at rank 6, outside the top 5.
    assert recall_at_k(retrieved, [KPI, GOALS], 5) == 0.5
    assert recall_at_k(retrieved, [KPI, GOALS], 6) == 1.0
    assert recall_at_k([], [KPI], 5) == 0.0
    with pytest.raises(ValueError):
        recall_at_k(retrieved, [], 5)


def test_mrr_hand_computed() -> None:
    assert reciprocal_rank(["x/a", "y/b", "staff/kpis/t"], [KPI]) == pytest.approx(1 / 3)
    assert reciprocal_rank(["staff/goals/30-day", "staff/kpis"], [KPI, GOALS]) == 1.0
    assert reciprocal_rank(["x/a"], [KPI]) == 0.0


def test_ndcg_hand_computed() -> None:
    # Relevant at ranks 2 and 3; a second KPI chunk at rank 4 earns nothing.
    retrieved = ["x/a", "staff/kpis", "staff/goals/30-day", "staff/kpis/t", "y/b"]
    assert relevance_at_k(retrieved, [KPI, GOALS], 5) == [0, 1, 1, 0, 0]
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(retrieved, [KPI, GOALS], 5) == pytest.approx(dcg / idcg)
    # Only one of two sources found, at rank 1: 1 / (1 + 1/log2(3)).
    assert ndcg_at_k(["staff/kpis"], [KPI, GOALS], 5) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["staff/kpis", "staff/goals/30-day"], [KPI, GOALS], 5) == 1.0
    assert ndcg_at_k(["x/a", "y/b"], [KPI], 5) == 0.0


@pytest.mark.parametrize("seed", range(25))
def test_ndcg_equals_sklearn_with_missing_sources_appended(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sources = [f"role/s{i}" for i in range(int(rng.integers(1, 5)))]
    pool = sources + [f"other/o{i}" for i in range(8)]
    # Each source at most once, like sklearn's items (repeats earn nothing in ours either).
    retrieved = list(rng.choice(pool, size=int(rng.integers(1, 10)), replace=False))
    k = int(rng.integers(1, 8))
    gains = relevance_at_k(retrieved, sources, len(retrieved))
    # Pad to k with irrelevant items so the appended sources stay below the cut-off.
    gains += [0] * max(0, k - len(gains))
    missing = [s for s in sources if s not in retrieved]
    y_true = np.array([gains + [1] * len(missing) + [0]], dtype=float)
    y_score = np.array([list(range(len(y_true[0]), 0, -1))], dtype=float)
    if y_true.sum() == 0:
        pytest.skip("sklearn needs a relevant item")
    expected = ndcg_score(y_true, y_score, k=k)
    assert ndcg_at_k(retrieved, sources, k) == pytest.approx(expected)


def test_metric_objects_score_results_and_apply_only_with_sources() -> None:
    case = golden_case(expected_sources=[KPI, GOALS])
    result = make_result("x", retrieved=[chunk("staff/goals/30-day"), chunk("x/y"), chunk("staff/kpis/a")])
    assert RecallAtK(5).name == "recall_at_5"
    assert RecallAtK(5).score(case, result) == 1.0
    assert RecallAtK(1).score(case, result) == 0.5
    assert MeanReciprocalRank().score(case, result) == 1.0
    assert NdcgAtK(5).score(case, result) == pytest.approx(
        (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    no_sources = golden_case(slice="refusal", must_refuse=True)
    assert not RecallAtK().applies(no_sources)
    assert not MeanReciprocalRank().applies(no_sources)
    assert not NdcgAtK().applies(no_sources)
