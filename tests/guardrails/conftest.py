"""Shared, session-scoped real parts: the packaged MiniLM embedder and the repo's policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.pipeline import GuardPipeline
from guardrails.policy import load_policies
from guardrails.testing import StaticLimits
from retrieval.embedding.torch_embedder import TorchEmbedder

POLICY_DIR = Path(__file__).resolve().parents[2] / "guardrails" / "policies"


@pytest.fixture(scope="session")
def embedder() -> TorchEmbedder:
    model = TorchEmbedder()
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def pipeline(embedder: TorchEmbedder) -> GuardPipeline:
    guards = GuardPipeline(load_policies(POLICY_DIR), embedder, StaticLimits())
    guards.warm_up()
    return guards
