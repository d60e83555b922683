"""Label rules that do not touch files: the initial labels and the rollback target."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from prompts.errors import RegistryError
from prompts.schema import LABEL_PATTERN, version_key
from prompts.store import HistoryEntry, PromptLabels, RegistryDocument
from prompts.versions import PromptVersion

Versions = Mapping[str, Mapping[str, PromptVersion]]

PRODUCTION = "production"
CANDIDATE = "candidate"
log = logging.getLogger(__name__)

DEFAULT_LABELS_FILE = Path(__file__).resolve().parent / "labels.default.json"


def check_label(label: str) -> str:
    if not LABEL_PATTERN.match(label):
        raise RegistryError(
            f"{label!r} is not a valid label (lowercase letter first, then letters, digits, "
            f"'-' or '_', at most 32 characters)"
        )
    return label


def read_defaults(path: Path | None) -> dict[str, dict[str, str]]:
    """``{name: {label: version}}`` from labels.default.json; {} when there is none."""
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"cannot read default labels {path}: {exc}") from exc
    valid = isinstance(data, dict) and all(
        isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
        for key, labels in data.items()
        if not key.startswith("_")
    )
    if not valid:
        raise RegistryError(f"{path}: expected {{name: {{label: version}}}}")
    return {k: v for k, v in data.items() if not k.startswith("_")}


def initial_labels(
    name: str,
    versions: Mapping[str, PromptVersion],
    defaults: Mapping[str, Mapping[str, str]],
    defaults_path: Path | None,
) -> dict[str, str]:
    """The labels a prompt starts with when the registry first sees it.

    The shipped defaults win; a prompt they do not mention (or whose default
    production version is not released) starts with ``production`` on its newest
    released version. Drafts are never labelled.
    """
    released = sorted(
        (v for v in versions.values() if v.release), key=lambda v: version_key(v.version)
    )
    chosen: dict[str, str] = {}
    for label, version in defaults.get(name, {}).items():
        check_label(label)
        found = versions.get(version)
        if found is None or found.release is None:
            # Bootstrapping: the defaults may name a version that is still a draft.
            log.warning(
                "%s: skipping %s -> %s@%s (not released)", defaults_path, label, name, version
            )
            continue
        chosen[label] = version
    if PRODUCTION not in chosen and released:
        chosen[PRODUCTION] = released[-1].version
    return chosen


def unlabelled(document: RegistryDocument, versions: Versions) -> list[str]:
    """Prompts with a released version that the registry document does not know yet."""
    return [
        name
        for name, family in sorted(versions.items())
        if name not in document.prompts and any(v.release for v in family.values())
    ]


def label_new_prompts(
    document: RegistryDocument, versions: Versions, defaults_file: Path | None, now: str
) -> RegistryDocument:
    """Give every released prompt the document has not seen its initial labels."""
    defaults = read_defaults(defaults_file)
    for name in unlabelled(document, versions):
        chosen = initial_labels(name, versions[name], defaults, defaults_file)
        reason = (
            f"initialised from {defaults_file.name}"
            if defaults_file and name in defaults
            else "initialised to the newest released version"
        )
        entry = document.for_prompt(name)
        for label, version in chosen.items():
            entry.record(
                {
                    "action": "init",
                    "label": label,
                    "from": None,
                    "to": version,
                    "actor": "system",
                    "at": now,
                    "reason": reason,
                }
            )
    return document


def check_document(document: RegistryDocument, versions: Versions, *, where: Path) -> None:
    """Every label must point at a released version that is loaded."""
    for name, entry in document.prompts.items():
        family = versions.get(name)
        if family is None:
            log.warning("prompt registry %s has labels for unknown prompt %r", where, name)
            continue
        for label, version in entry.labels.items():
            found = family.get(version)
            if found is None or found.release is None:
                raise RegistryError(
                    f"{where}: label {label!r} of {name!r} points at {version}, "
                    "which is not a released version"
                )


def rollback_target(entry: PromptLabels, label: str) -> str:
    """The version ``label`` pointed at before its current one.

    Replays the label's history as a stack: a move pushes its target (unless it
    re-points at the same version), a rollback pops. Rolling back twice after two
    promotions therefore walks back two steps instead of flip-flopping.
    """
    stack: list[str] = []
    for item in entry.history:
        if item.label != label:
            continue
        if item.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != item.to_version:
                stack.append(item.to_version)
        elif not stack or stack[-1] != item.to_version:
            stack.append(item.to_version)
    if len(stack) < 2:
        raise RegistryError(f"label {label!r} has no earlier version to roll back to")
    return stack[-2]


def entries_for(history: list[HistoryEntry], label: str | None) -> list[HistoryEntry]:
    return [e for e in history if label is None or e.label == label]
