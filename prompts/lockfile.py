"""The release lock: ``prompts/templates/LOCK.json``, committed with the templates.

It maps ``name@version`` to the sha256 of the released file. A version listed
here is immutable: if its file's hash differs, loading refuses it. A version file
not listed is a draft until ``ladder prompts release NAME@VERSION`` adds it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prompts.errors import RegistryError
from prompts.fileio import atomic_write_text, exclusive_lock

LOCK_FILENAME = "LOCK.json"


class LockEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    released_at: str
    released_by: str


class LockDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = 1
    released: dict[str, LockEntry] = Field(default_factory=dict)


def read_lock(path: Path) -> LockDocument:
    """Read the lock file; a missing file means nothing has been released yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LockDocument()
    except OSError as exc:
        raise RegistryError(f"cannot read the prompt lock file {path}: {exc}") from exc
    try:
        document = LockDocument.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise RegistryError(f"the prompt lock file {path} is invalid: {exc}") from exc
    if document.format != 1:
        raise RegistryError(f"{path}: unsupported lock format {document.format}")
    return document


def _dump(document: LockDocument) -> str:
    ordered = dict(sorted(document.released.items()))
    body = {"format": document.format, "released": {k: v.model_dump() for k, v in ordered.items()}}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def add_release(
    path: Path, ref: str, sha256: str, *, actor: str, now: datetime
) -> tuple[LockEntry, bool]:
    """Record ``ref`` as released with ``sha256``. Returns (entry, newly_added).

    Re-releasing with the same hash is a no-op; with a different hash it is refused,
    because a released version must never change.
    """
    with exclusive_lock(path, sidecar=False):
        document = read_lock(path)
        existing = document.released.get(ref)
        if existing is not None:
            if existing.sha256 != sha256:
                raise RegistryError(
                    f"{ref} is already released with sha256 {existing.sha256[:12]}…; "
                    "a released version cannot be re-released with different content"
                )
            return existing, False
        entry = LockEntry(
            sha256=sha256, released_at=now.isoformat(timespec="milliseconds"), released_by=actor
        )
        document.released[ref] = entry
        atomic_write_text(path, _dump(document))
        return entry, True
