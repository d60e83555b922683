"""The managers' API over plain HTTP: /v1/answers, /v1/search, /v1/roles, /v1/prompts.

Expected values come from the corpus files and prompt templates themselves, read
independently of ladder's parser, never from the gateway's own output."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.gateway.conftest import PROJECT

pytestmark = pytest.mark.integration

CORPUS = PROJECT / "corpus"
MARKER = re.compile(r"\[(\d{1,3})\]")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    return yaml.safe_load(text.split("---\n", 2)[1])


def _corpus_roles() -> dict[str, Path]:
    return {_front_matter(p)["slug"]: p for p in sorted(CORPUS.glob("*.md")) if p.name != "README.md"}


def _kpi_rows(path: Path) -> list[list[str]]:
    """The KPI table's body rows, cell by cell, straight from the Markdown."""
    text = path.read_text(encoding="utf-8")
    section = re.search(r"^## \d+\) KPIs and Productivity Metrics[ \t]*\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, f"{path.name} has no KPI section"
    lines = [line.strip() for line in section.group(1).splitlines() if line.strip().startswith("|")]
    header, separator, *body = lines
    assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", separator), separator
    assert header.strip("|").split("|")[0].strip() == "KPI"
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in body]


# -- /v1/answers ------------------------------------------------------------------------------

def test_answer_carries_every_documented_field(http: httpx.Client) -> None:
    response = http.post("/v1/answers", json={"question": "What availability should an AI endpoint reach?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"answer", "citations", "refused", "refusal_reason", "guardrails", "usage", "model",
                         "provider", "prompt", "trace_id", "latency_ms"}

    answer = body["answer"]
    assert "99.9%" in answer
    assert body["refused"] is False and body["refusal_reason"] is None

    citations = body["citations"]
    assert {c["marker"] for c in citations} == {int(n) for n in MARKER.findall(answer)}
    for c in citations:
        assert set(c) >= {"marker", "chunk_id", "document", "role", "section_id", "section_path", "quote", "score"}
        assert re.fullmatch(r"[0-9a-f]{16}", c["chunk_id"]), c
        assert c["section_path"].startswith(c["document"]) and c["quote"].strip()
        assert isinstance(c["score"], float) and 0.0 <= c["score"] <= 1.0
        assert c["section_id"].startswith(c["role"] + "/")
    staff = [c for c in citations
             if c["section_id"] == "staff-applied-ai-engineer/kpis-and-productivity-metrics"
             and c["section_path"].endswith("Inference availability")]
    assert staff, f"the Staff Applied AI Engineer's KPI row is not cited: {citations}"
    assert staff[0]["document"] == "Staff Applied AI Engineer"
    assert "99.9%+" in staff[0]["quote"]
    assert f"[{staff[0]['marker']}]" in answer

    verdicts = body["guardrails"]
    assert {v["stage"] for v in verdicts} == {"input", "output"}
    for v in verdicts:
        assert v["guard"] and v["action"] in {"allow", "block", "refuse", "redact", "remove", "warn", "log"}
        assert isinstance(v["triggered"], bool)
    assert not any(v["triggered"] and v["action"] in {"refuse", "block"} for v in verdicts)

    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["cost_usd"] == 0.0  # the embedded extractive model is free
    assert usage["source"]

    assert body["model"] == "ladder-extractive" and body["provider"] == "extractive"
    assert body["prompt"]["name"] == "rag_answer" and SEMVER.match(body["prompt"]["version"])
    assert re.fullmatch(r"[0-9a-f]{32}", body["trace_id"]), body["trace_id"]  # W3C trace id
    assert body["latency_ms"] > 0


def test_answer_restricted_to_a_role_cites_only_that_role(http: httpx.Client) -> None:
    body = http.post(
        "/v1/answers", json={"question": "What are the KPIs for availability?", "role": "mlops-engineer"}
    ).json()
    assert body["citations"], body
    assert {c["role"] for c in body["citations"]} == {"mlops-engineer"}


def test_off_topic_question_is_refused_with_a_reason(http: httpx.Client) -> None:
    body = http.post("/v1/answers", json={"question": "What is the best topping for a pizza?"}).json()
    assert body["refused"] is True
    assert body["refusal_reason"]
    assert body["citations"] == []
    assert any(v["triggered"] for v in body["guardrails"])


@pytest.mark.parametrize("question", ["What are the KPIs?", "What are the 30-day goals?"])
def test_a_question_every_role_answers_differently_asks_which_role(http: httpx.Client, question: str) -> None:
    """With no role named and none in the request, one blueprint's KPIs would be stated as
    if they were the answer; the service asks which role instead, naming those it knows."""
    body = http.post("/v1/answers", json={"question": question}).json()
    assert body["refused"] is True and body["citations"] == []
    assert body["answer"] == body["refusal_reason"] and body["answer"].startswith("Which role do you mean?")
    titles = [r["role"] for r in http.get("/v1/roles").json()["data"]]
    assert all(title in body["answer"] for title in titles)
    assert f'"{question.rstrip("?")} for ' in body["answer"]  # an example the user can send back
    # The role given as a filter, or named in the question, answers as before.
    for request in ({"question": question, "role": "mlops-engineer"},
                    {"question": f"{question.rstrip('?')} for an MLOps Engineer?"}):
        answered = http.post("/v1/answers", json=request).json()
        assert answered["refused"] is False and {c["role"] for c in answered["citations"]} == {"mlops-engineer"}


def test_another_level_of_a_known_role_is_unknown_and_points_to_the_nearest(http: httpx.Client) -> None:
    # There is no Senior Backend Engineer blueprint: the answer had been the Senior ML
    # Engineer's promotion skills.
    body = http.post("/v1/answers", json={
        "question": "I'm a senior backend engineer. What should I work on to get promoted?"}).json()
    assert body["refused"] is True and body["refusal_code"] == "unknown_role" and body["citations"] == []
    assert '"Senior Backend Engineer"' in body["answer"] and "The nearest one is Staff Backend Engineer." in body["answer"]


def test_comparing_two_roles_answers_for_each_naming_it(http: httpx.Client) -> None:
    body = http.post("/v1/answers", json={"question": "Compare the Staff Data Engineer and the Staff Backend Engineer"}).json()
    assert body["refused"] is False, body
    assert {c["role"] for c in body["citations"]} == {"staff-data-engineer", "staff-backend-engineer"}
    # Each side is labelled with its role, and its sentence is cited to that role's blueprint.
    documents = {c["marker"]: c["document"] for c in body["citations"]}
    pieces = re.findall(r"(.+?)\s\[(\d+)\]", body["answer"])
    assert len(pieces) == 2, body["answer"]
    for sentence, marker in pieces:
        assert sentence.strip().startswith(documents[int(marker)]), (sentence, documents)


def test_pinned_prompt_version_is_used(http: httpx.Client) -> None:
    versions = sorted(p.stem for p in (PROJECT / "prompts" / "templates" / "rag_answer").glob("*.yaml"))
    for version in versions:
        body = http.post("/v1/answers", json={"question": "What are the KPIs of an MLOps Engineer?",
                                              "prompt_version": version}).json()
        assert body["prompt"] == {**body["prompt"], "name": "rag_answer", "version": version}


# -- /v1/search -------------------------------------------------------------------------------

def test_search_returns_scored_hits(http: httpx.Client) -> None:
    body = http.post("/v1/search", json={"query": "inference availability target", "k": 5}).json()
    hits = body["hits"]
    assert body["mode"] == "hybrid" and body["fusion"] and body["index_version"]
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1)) and len(hits) == 5
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    top = hits[0]
    assert top["bm25_score"] is not None and top["dense_score"] is not None
    assert top["section_path"].endswith("availability")
    assert any(h["role"] == "staff-applied-ai-engineer" and "Inference availability" in h["text"] for h in hits)


def test_search_filters_by_role(http: httpx.Client) -> None:
    for role in ("staff-data-engineer", ["mlops-engineer", "ai-platform-lead"]):
        body = http.post("/v1/search", json={"query": "availability", "k": 8, "role": role}).json()
        wanted = {role} if isinstance(role, str) else set(role)
        assert body["hits"] and {h["role"] for h in body["hits"]} <= wanted


@pytest.mark.parametrize("mode", ["bm25", "dense"])
def test_search_single_retriever_modes(http: httpx.Client, mode: str) -> None:
    body = http.post("/v1/search", json={"query": "model drift detection", "k": 3, "mode": mode}).json()
    assert body["mode"] == mode and body["fusion"] is None and len(body["hits"]) == 3
    for hit in body["hits"]:
        assert hit["score"] == pytest.approx(hit[f"{mode}_score"])  # ranked by that retriever alone
    if mode == "bm25":
        assert all(h["dense_score"] is None for h in body["hits"])  # no query vector was computed


def test_search_over_http_equals_the_searcher_in_process(
    http: httpx.Client, gateway: Any, corpus_index_root: Path, torch_embedder: Any,
) -> None:
    # The route embeds the query on a model thread and scores on the event loop with that
    # vector; the ranking must be the searcher's own, query embedding included.
    from retrieval.index.store import load_index
    from retrieval.searcher import HybridSearcher

    searcher = HybridSearcher(load_index(corpus_index_root, torch_embedder), torch_embedder,
                              gateway.settings.retrieval)
    for query, role in (("How is inference availability measured?", None),
                        ("stakeholder communication", "mlops-engineer")):
        body = http.post("/v1/search", json={"query": query, "k": 6, "role": role}).json()
        expected = searcher.search(query, k=6, filters={"role": role} if role else None)
        assert [h["chunk_id"] for h in body["hits"]] == [h.chunk.id for h in expected]
        assert [h["score"] for h in body["hits"]] == pytest.approx([h.score for h in expected], abs=1e-6)


# -- /v1/roles --------------------------------------------------------------------------------

def test_roles_list_every_corpus_blueprint(http: httpx.Client) -> None:
    body = http.get("/v1/roles").json()
    roles = _corpus_roles()
    assert {r["slug"] for r in body["data"]} == set(roles)
    for summary in body["data"]:
        front = _front_matter(roles[summary["slug"]])
        assert summary["role"] == front["role"]
        assert summary["level"] == front["level"] and summary["family"] == front["family"]


def test_role_detail(http: httpx.Client) -> None:
    body = http.get("/v1/roles/staff-applied-ai-engineer").json()
    assert body["slug"] == "staff-applied-ai-engineer"
    assert body["role"] == "Staff Applied AI Engineer"
    assert body["summary"] == _front_matter(CORPUS / "staff-applied-ai-engineer.md")["summary"]


@pytest.mark.parametrize("slug", sorted(_corpus_roles()))
def test_kpi_rows_match_the_markdown_table(http: httpx.Client, slug: str) -> None:
    expected = _kpi_rows(_corpus_roles()[slug])
    body = http.get(f"/v1/roles/{slug}/kpis").json()
    assert body["count"] == len(expected) == len(body["data"])
    assert [(k["name"], k["target"], k["frequency"]) for k in body["data"]] == [
        (row[0], row[3], row[4]) for row in expected
    ]


# -- /v1/prompts ------------------------------------------------------------------------------

def test_prompts_list_versions_and_labels(http: httpx.Client) -> None:
    files = sorted(p.stem for p in (PROJECT / "prompts" / "templates" / "rag_answer").glob("*.yaml"))
    listing = http.get("/v1/prompts").json()
    entry = next(p for p in listing["data"] if p["name"] == "rag_answer")
    assert sorted(entry["versions"]) == files
    assert entry["labels"]["production"] in files

    detail = http.get("/v1/prompts/rag_answer").json()
    assert sorted(v["version"] for v in detail["versions"]) == files
    assert all(re.fullmatch(r"[0-9a-f]{64}", v["sha256"]) for v in detail["versions"])

    version = files[0]
    one = http.get(f"/v1/prompts/rag_answer/versions/{version}").json()
    template = yaml.safe_load((PROJECT / "prompts" / "templates" / "rag_answer" / f"{version}.yaml").read_text())
    assert one["version"] == version and one["system"] == template["system"] and one["user"] == template["user"]
