"""The label registry file: which version each label points at, and every move.

Layout (JSON)::

    {"format": 1,
     "prompts": {"rag_answer": {
        "labels": {"production": "1.0.0", "candidate": "2.0.0"},
        "history": [{"seq": 1, "action": "init", "label": "production",
                     "from": null, "to": "1.0.0", "actor": "system",
                     "at": "2025-01-01T00:00:00.000+00:00", "reason": "...",
                     "forced": false, "gate": null}, ...]}}}

Writers take an exclusive flock on ``<file>.lock``, re-read the file, apply their
change and replace the file atomically, so concurrent moves are serialised and
none is lost. Readers never lock: ``os.replace`` guarantees they see a whole file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prompts.errors import RegistryError
from prompts.fileio import atomic_write_text, exclusive_lock

T = TypeVar("T")
Action = Literal["init", "move", "promote", "rollback"]
Signature = tuple[int, int, int]


class GateRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # None when no gate ran (unavailable, or a label that is not gated).
    passed: bool | None
    summary: str


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    seq: int = Field(ge=1)
    action: Action
    label: str
    from_version: str | None = Field(alias="from")
    to_version: str = Field(alias="to")
    actor: str
    at: str = Field(description="UTC, ISO 8601")
    reason: str | None = None
    forced: bool = False
    gate: GateRecord | None = None


class PromptLabels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str] = Field(default_factory=dict)
    history: list[HistoryEntry] = Field(default_factory=list)

    def record(self, entry_fields: dict[str, object]) -> HistoryEntry:
        """Append a history entry (numbered) and apply it to the label."""
        entry = HistoryEntry.model_validate({"seq": len(self.history) + 1, **entry_fields})
        self.history.append(entry)
        self.labels[entry.label] = entry.to_version
        return entry


class RegistryDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = 1
    prompts: dict[str, PromptLabels] = Field(default_factory=dict)

    def for_prompt(self, name: str) -> PromptLabels:
        return self.prompts.setdefault(name, PromptLabels())


def _dump(document: RegistryDocument) -> str:
    return json.dumps(document.model_dump(by_alias=True), indent=2, ensure_ascii=False) + "\n"


class LabelStore:
    """File access for the registry document; knows nothing about templates."""

    def __init__(self, path: Path):
        self.path = path

    def signature(self) -> Signature | None:
        """(inode, mtime_ns, size): changes whenever a writer replaces the file."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def read(self) -> RegistryDocument | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RegistryError(f"cannot read the prompt registry {self.path}: {exc}") from exc
        try:
            document = RegistryDocument.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise RegistryError(
                f"the prompt registry {self.path} is corrupt or hand-edited wrongly "
                f"(left untouched): {exc}"
            ) from exc
        if document.format != 1:
            raise RegistryError(f"{self.path}: unsupported registry format {document.format}")
        return document

    def mutate(
        self,
        change: Callable[[RegistryDocument], T],
        initial: Callable[[], RegistryDocument],
    ) -> T:
        """Apply ``change`` to the current document under the lock and persist it.

        ``initial`` builds the document when the file does not exist yet. If
        ``change`` raises, nothing is written.
        """
        try:
            with exclusive_lock(self.path):
                document = self.read()
                if document is None:
                    document = initial()
                result = change(document)
                atomic_write_text(self.path, _dump(document))
                return result
        except OSError as exc:
            raise RegistryError(f"cannot write the prompt registry {self.path}: {exc}") from exc

    def ensure(self, initial: Callable[[], RegistryDocument]) -> RegistryDocument:
        """Return the document, creating the file from ``initial`` if it is missing."""
        document = self.read()
        if document is not None:
            return document
        return self.mutate(lambda doc: doc, initial)
