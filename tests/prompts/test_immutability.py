"""Released versions are frozen by their hash; drafts become releases through the lock."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prompts.errors import PromptEdited, PromptNotFound, RegistryError, TemplateValidationError
from prompts.fileio import content_hash
from prompts.registry import PromptRegistry


def _registry(templates_dir: Path, tmp_path: Path, **options: object) -> PromptRegistry:
    return PromptRegistry(templates_dir, tmp_path / "reg.json", **options)  # type: ignore[arg-type]


def test_editing_a_released_file_is_refused(templates_dir: Path, tmp_path: Path) -> None:
    path = templates_dir / "rag_answer" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("temperature: 0.2", "temperature: 0.3"))
    with pytest.raises(PromptEdited) as info:
        _registry(templates_dir, tmp_path).load()
    message = str(info.value)
    assert message.startswith("rag_answer@1.0.0 was edited after release: create 1.0.1 instead")
    assert str(path) in message
    assert info.value.found == content_hash(path.read_bytes())


def test_whitespace_only_edit_is_still_an_edit(templates_dir: Path, tmp_path: Path) -> None:
    path = templates_dir / "rag_answer" / "2.0.0.yaml"
    path.write_text(path.read_text() + "\n")
    with pytest.raises(PromptEdited, match="create 2.0.1 instead"):
        _registry(templates_dir, tmp_path).load()


def test_suggestion_skips_versions_that_exist(templates_dir: Path, tmp_path: Path) -> None:
    src = templates_dir / "rag_answer" / "1.0.0.yaml"
    draft = src.with_name("1.0.1.yaml")
    draft.write_text(src.read_text().replace('version: "1.0.0"', 'version: "1.0.1"'))
    src.write_text(src.read_text() + "# tweak\n")
    with pytest.raises(PromptEdited, match="create 1.0.2 instead"):
        _registry(templates_dir, tmp_path).load()


def test_crlf_checkout_keeps_the_hash(templates_dir: Path, tmp_path: Path) -> None:
    path = templates_dir / "rag_answer" / "1.0.0.yaml"
    before = content_hash(path.read_bytes())
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert content_hash(path.read_bytes()) == before
    _registry(templates_dir, tmp_path).load()  # not refused


def test_deleting_a_released_file_is_refused(templates_dir: Path, tmp_path: Path) -> None:
    (templates_dir / "rag_answer" / "1.0.0.yaml").unlink()
    with pytest.raises(RegistryError, match="rag_answer@1.0.0 is released .* is missing"):
        _registry(templates_dir, tmp_path).load()


def _add_draft(templates_dir: Path) -> Path:
    src = templates_dir / "rag_answer" / "2.0.0.yaml"
    draft = src.with_name("2.1.0.yaml")
    draft.write_text(
        src.read_text()
        .replace('version: "2.0.0"', 'version: "2.1.0"')
        .replace("max_tokens: 700", "max_tokens: 600")
    )
    return draft


def test_draft_flow(templates_dir: Path, tmp_path: Path) -> None:
    draft = _add_draft(templates_dir)
    clock = lambda: datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    registry = _registry(templates_dir, tmp_path, clock=clock).load()
    assert registry.get_version("rag_answer", "2.1.0").status == "draft"
    # A draft is neither servable by pin nor labellable.
    with pytest.raises(PromptNotFound, match="is a draft"):
        registry.resolve("rag_answer", pinned_version="2.1.0")
    with pytest.raises(RegistryError, match="is a draft; run `ladder prompts release"):
        registry.move_label("rag_answer", "candidate", "2.1.0", actor="a")
    # ... unless the registry is built for evaluation.
    evaluator = _registry(templates_dir, tmp_path, allow_drafts=True).load()
    assert evaluator.resolve("rag_answer", pinned_version="2.1.0").version == "2.1.0"

    entry, added = registry.release("rag_answer", "2.1.0", actor="alice")
    assert added and entry.released_by == "alice"
    assert entry.released_at == "2025-03-01T12:00:00.000+00:00"
    lock = json.loads((templates_dir / "LOCK.json").read_text())["released"]
    assert lock["rag_answer@2.1.0"]["sha256"] == content_hash(draft.read_bytes())
    assert registry.get_version("rag_answer", "2.1.0").status == "released"
    assert registry.release("rag_answer", "2.1.0", actor="bob")[1] is False  # idempotent

    # From now on the file is frozen.
    draft.write_text(draft.read_text().replace("max_tokens: 600", "max_tokens: 500"))
    with pytest.raises(
        PromptEdited, match="rag_answer@2.1.0 was edited after release: create 2.1.1"
    ):
        _registry(templates_dir, tmp_path).load()


def test_release_revalidates_the_file_on_disk(templates_dir: Path, tmp_path: Path) -> None:
    draft = _add_draft(templates_dir)
    registry = _registry(templates_dir, tmp_path).load()
    draft.write_text(draft.read_text().replace("guard_policy:", "guard_polcy:"))
    with pytest.raises(TemplateValidationError, match="unknown field 'guard_polcy'"):
        registry.release("rag_answer", "2.1.0", actor="alice")
    assert "rag_answer@2.1.0" not in (templates_dir / "LOCK.json").read_text()


def test_lock_file_is_not_left_with_stray_files(templates_dir: Path, tmp_path: Path) -> None:
    _add_draft(templates_dir)
    before = sorted(p.name for p in templates_dir.iterdir())
    _registry(templates_dir, tmp_path).load().release("rag_answer", "2.1.0", actor="a")
    assert sorted(p.name for p in templates_dir.iterdir()) == before


def test_corrupt_lock_file_is_reported(templates_dir: Path, tmp_path: Path) -> None:
    (templates_dir / "LOCK.json").write_text("{not json")
    with pytest.raises(RegistryError, match="lock file .* is invalid"):
        _registry(templates_dir, tmp_path).load()


def test_copy_without_lock_means_everything_is_draft(templates_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(templates_dir, bare)
    (bare / "LOCK.json").unlink()
    registry = _registry(bare, tmp_path).load()
    assert {v.status for v in registry.get("rag_answer")} == {"draft"}
    assert registry.labels("rag_answer") == {}
    with pytest.raises(PromptNotFound, match="no 'production' label"):
        registry.resolve("rag_answer")
