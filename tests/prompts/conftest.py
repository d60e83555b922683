"""Fixtures for the prompt registry tests: tmp copies of the shipped templates."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prompts.registry import PromptRegistry

DEMO_TEMPLATE = """\
name: demo
version: "1.0.0"
description: A demo prompt.
changelog: first
guard_policy: default
parameters:
  temperature: 0.1
  max_tokens: 100
input_variables:
  question:
    type: str
    description: the question
    example: "why?"
system: |
  You answer briefly.
user: |
  Question: {{ question }}
"""

SHIPPED_TEMPLATES = Path(__file__).resolve().parents[2] / "prompts" / "templates"


@pytest.fixture(scope="session")
def shipped_templates() -> Path:
    return SHIPPED_TEMPLATES


@pytest.fixture
def demo_text() -> str:
    """A small valid template for a prompt named ``demo``."""
    return DEMO_TEMPLATE


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped templates (LOCK.json included)."""
    target = tmp_path / "templates"
    shutil.copytree(SHIPPED_TEMPLATES, target)
    return target


@pytest.fixture
def make_registry(tmp_path: Path, templates_dir: Path) -> Callable[..., PromptRegistry]:
    def build(**options: Any) -> PromptRegistry:
        options.setdefault("registry_file", tmp_path / "var" / "prompt-registry.json")
        return PromptRegistry(templates_dir, **options).load()

    return build


@pytest.fixture
def registry(make_registry: Callable[..., PromptRegistry]) -> PromptRegistry:
    return make_registry()


@pytest.fixture
def write_template(tmp_path: Path) -> Callable[..., Path]:
    """Write ``text`` as ``<root>/<name>/<version>.yaml`` and return its path."""

    def write(text: str, name: str = "demo", version: str = "1.0.0") -> Path:
        path = tmp_path / "own" / name / f"{version}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _sample_variables(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "question": "What is the p95 latency target for inference?",
        "passages": [
            {
                "marker": 1,
                "title": "Staff Applied AI Engineer",
                "section_path": "7) KPIs and Productivity Metrics",
                "text": "Inference latency (p50/p95). Example target: p95 < 200–500ms.",
                "chunk_id": "staff#kpi-3",
            },
            {
                "marker": 2,
                "title": "Staff Applied AI Engineer",
                "section_path": "6) Goals > 90-day goals",
                "text": "By day 90, the engineer has shipped a production AI improvement.",
                "chunk_id": "staff#goals-90",
            },
        ],
        "history": [{"role": "user", "content": "Tell me about the staff role."}],
        "role_filter": "Staff Applied AI Engineer",
    }
    values.update(overrides)
    return values


@pytest.fixture
def sample_variables() -> Callable[..., dict[str, Any]]:
    """Render variables in the shape the gateway passes to rag_answer."""
    return _sample_variables
