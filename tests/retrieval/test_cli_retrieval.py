"""``ladder ingest`` and ``ladder search`` through typer's CliRunner (real model, real files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gateway.cli.main import app
from retrieval.index import complete_versions

runner = CliRunner()


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "LADDER_DATA_DIR": str(data_dir),
        "LADDER_RETRIEVAL__EMBEDDING_BACKEND": "torch",
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",  # rich wraps at 80 columns when not on a terminal
        **extra,
    }


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    return runner.invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def seed_ingest(tmp_path_factory: pytest.TempPathFactory, seed_path: Path) -> tuple[Result, Path]:
    """Ingest the WordPress seed plus broken files, from the configured corpus_paths."""
    corpus = tmp_path_factory.mktemp("mixed-corpus")
    shutil.copy(seed_path, corpus / seed_path.name)
    (corpus / "broken.json").write_text('{"title": "unterminated', encoding="utf-8")
    (corpus / "empty.md").write_text("", encoding="utf-8")
    (corpus / "frontmatter-only.md").write_text("---\nrole: Ghost\n---\n", encoding="utf-8")
    data = tmp_path_factory.mktemp("data")
    index_dir = data / "custom-index"
    env = _env(data, LADDER_CORPUS_PATHS=json.dumps([str(corpus)]))
    return _invoke(["ingest", "--index-dir", str(index_dir)], env), index_dir


def test_help_is_available() -> None:
    for command, words in (
        ("ingest", ["--index-dir", "PATHS"]),
        ("search", ["--k", "--role", "--fusion", "--json"]),
    ):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        for word in words:
            assert word.lower() in result.output.lower()


def test_ingest_reports_bad_files_and_indexes_good_ones(seed_ingest: tuple[Result, Path]) -> None:
    result, index_dir = seed_ingest
    assert result.exit_code == 0, result.output
    assert "broken.json: malformed JSON" in result.stderr
    assert "empty.md: empty file" in result.stderr
    assert "frontmatter-only.md: empty document" in result.stderr
    assert "files: 4 (3 failed)" in result.stdout
    assert "blueprints: 1" in result.stdout
    [version] = complete_versions(index_dir)
    assert f"version: {version}" in result.stdout


def test_search_over_the_seed_index_finds_the_kpi_row(
    seed_ingest: tuple[Result, Path], tmp_path: Path
) -> None:
    _, index_dir = seed_ingest
    result = _invoke(
        ["search", "inference availability", "--k", "3", "--json", "--index-dir", str(index_dir)],
        _env(tmp_path),
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    top = payload["hits"][0]
    assert top["chunk"]["section_path"][-1] == "Inference availability"
    assert top["chunk"]["kind"] == "table_row"
    assert top["bm25_rank"] == 1
    assert len(payload["hits"]) == 3


def test_search_table_output(corpus_index_root: Path, tmp_path: Path) -> None:
    args = [
        "search",
        "inference availability",
        "--k",
        "2",
        "--role",
        "staff-applied-ai-engineer",
        "--mode",
        "hybrid",
        "--fusion",
        "rrf",
        "--index-dir",
        str(corpus_index_root),
    ]
    result = _invoke(args, _env(tmp_path))
    assert result.exit_code == 0, result.output
    for text in ("fused", "bm25", "dense", "Inference availability", "2 hit(s)"):
        assert text in result.stdout


def test_search_filters_unknown_and_malformed(corpus_index_root: Path, tmp_path: Path) -> None:
    base = [
        "search",
        "inference availability",
        "--index-dir",
        str(corpus_index_root),
        "--mode",
        "bm25",
    ]
    unknown = _invoke([*base, "--role", "no-such-role"], _env(tmp_path))
    assert unknown.exit_code == 0 and "no hits" in unknown.stdout
    malformed = _invoke([*base, "--level", "Staff Engineer!"], _env(tmp_path))
    assert malformed.exit_code == 2
    assert "malformed" in " ".join(malformed.stderr.split())


def test_search_without_an_index(tmp_path: Path) -> None:
    result = _invoke(["search", "anything"], _env(tmp_path))
    assert result.exit_code == 1
    assert "no complete index" in " ".join(result.stderr.split())


def test_ingest_fails_when_every_file_is_bad(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    unknown = tmp_path / "notes.xyz"
    unknown.write_text("hello", encoding="utf-8")
    result = _invoke(
        ["ingest", str(broken), str(unknown), str(tmp_path / "missing.md")], _env(tmp_path)
    )
    assert result.exit_code == 1
    assert "broken.json: malformed JSON" in result.stderr
    assert "notes.xyz: unknown format" in result.stderr
    assert "missing.md: no such file or folder" in result.stderr
    assert "nothing was indexed" in " ".join(result.stderr.split())
    assert complete_versions(tmp_path / "index") == []
