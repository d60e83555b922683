"""The prompt registry: validated versions, labels that point at them, and resolution.

Construction is cheap; ``warm_up()`` (or ``load()``) reads and validates every
template, checks released files against LOCK.json and opens the label registry
(creating it from ``labels.default.json`` on first use). Label moves made by
another process (``ladder prompts promote``) are picked up by ``resolve`` on its
next call: it stats the registry file and re-reads it only when it changed.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prompts.canary import in_canary
from prompts.catalog import Versions, load_versions
from prompts.errors import PromptError, PromptNotFound, RegistryError
from prompts.gate import ReleaseGate, gate_verdict
from prompts.labels import (
    CANDIDATE,
    DEFAULT_LABELS_FILE,
    PRODUCTION,
    check_document,
    check_label,
    label_new_prompts,
    rollback_target,
    unlabelled,
)
from prompts.loader import load_template
from prompts.lockfile import LOCK_FILENAME, LockEntry, add_release
from prompts.schema import LABEL_PATTERN, VERSION_PATTERN, version_key
from prompts.store import HistoryEntry, LabelStore, PromptLabels, RegistryDocument, Signature
from prompts.versions import PromptVersion, ResolvedPrompt

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _required(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise RegistryError(f"{what} is required")
    return value.strip()


@dataclass(frozen=True)
class _Snapshot:
    signature: Signature | None  # None forces a re-read on the next request
    document: RegistryDocument


class PromptRegistry:
    def __init__(
        self,
        templates_dir: Path,
        registry_file: Path,
        *,
        defaults_file: Path | None = DEFAULT_LABELS_FILE,
        lock_file: Path | None = None,
        allow_drafts: bool = False,
        gated_labels: frozenset[str] = frozenset({PRODUCTION}),
        clock: Callable[[], datetime] = utc_now,
    ):
        self.templates_dir = Path(templates_dir)
        self.registry_file = Path(registry_file)
        self.lock_file = lock_file or self.templates_dir / LOCK_FILENAME
        self.defaults_file = defaults_file
        # Drafts may be pinned only where explicitly allowed (e.g. by an eval run).
        self.allow_drafts = allow_drafts
        self.gated_labels = gated_labels
        self._clock = clock
        self._store = LabelStore(self.registry_file)
        self._versions: Versions | None = None
        self._snapshot: _Snapshot | None = None
        self._bad_signature: Signature | None = None
        self._refresh_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **options: object) -> PromptRegistry:
        return cls(settings.prompts.templates_dir, settings.prompt_registry_file, **options)  # type: ignore[arg-type]

    # -- loading ---------------------------------------------------------------

    def load_templates(self) -> PromptRegistry:
        """Load and validate the templates only, without opening the label registry."""
        self._versions = load_versions(self.templates_dir, self.lock_file)
        return self

    def load(self) -> PromptRegistry:
        """Load the templates, then open (or create) the label registry."""
        self.load_templates()
        assert self._versions is not None
        document = self._store.ensure(self._label_new_prompts)
        if self._unlabelled(document):
            document = self._store.mutate(self._label_new_prompts, RegistryDocument)
        self._check_document(document, self._versions)
        self._snapshot = _Snapshot(self._store.signature(), document)
        return self

    def warm_up(self) -> None:
        self.load()

    def _all(self) -> Versions:
        if self._versions is None:
            raise RegistryError("the prompt registry is not loaded: call warm_up() first")
        return self._versions

    def _unlabelled(self, document: RegistryDocument) -> list[str]:
        return unlabelled(document, self._all())

    def _label_new_prompts(self, document: RegistryDocument | None = None) -> RegistryDocument:
        document = document if document is not None else RegistryDocument()
        return label_new_prompts(document, self._all(), self.defaults_file, self._now())

    def _check_document(self, document: RegistryDocument, versions: Versions) -> None:
        check_document(document, versions, where=self.registry_file)

    def _document(self) -> RegistryDocument:
        """The current label document, re-read only when the file changed on disk."""
        snapshot = self._snapshot
        if snapshot is None:
            raise RegistryError("the prompt registry is not loaded: call warm_up() first")
        signature = self._store.signature()
        if signature is None or signature in (snapshot.signature, self._bad_signature):
            return snapshot.document
        with self._refresh_lock:
            snapshot = self._snapshot or snapshot
            if signature == snapshot.signature:
                return snapshot.document
            try:
                document = self._store.read() or snapshot.document
                try:
                    self._check_document(document, self._all())
                except RegistryError:
                    # A label may point at a version released after we started.
                    self._versions = load_versions(self.templates_dir, self.lock_file)
                    self._check_document(document, self._versions)
            except PromptError as exc:
                log.error("ignoring unusable prompt registry change (keeping last good): %s", exc)
                self._bad_signature = signature
                return snapshot.document
            self._snapshot = _Snapshot(signature, document)
            return document

    # -- reading ---------------------------------------------------------------

    def list_prompts(self) -> list[str]:
        return sorted(self._all())

    def get(self, name: str) -> list[PromptVersion]:
        """Every version of ``name`` (drafts included), oldest first."""
        family = self._all().get(name)
        if family is None:
            known = ", ".join(self.list_prompts()) or "none"
            raise PromptNotFound(f"no prompt named {name!r} (known: {known})")
        return sorted(family.values(), key=lambda v: version_key(v.version))

    def get_version(self, name: str, version: str) -> PromptVersion:
        family = {v.version: v for v in self.get(name)}
        if version not in family:
            raise PromptNotFound(f"{name} has no version {version!r} (has: {', '.join(family)})")
        return family[version]

    def labels(self, name: str) -> dict[str, str]:
        return dict(sorted(self._labels_of(name).items()))

    def _labels_of(self, name: str) -> dict[str, str]:
        if name not in self._all():
            self.get(name)  # raises PromptNotFound with the known names
        entry = self._document().prompts.get(name)
        return entry.labels if entry else {}

    def history(self, name: str, label: str | None = None) -> list[HistoryEntry]:
        self.get(name)
        entry = self._document().prompts.get(name)
        return [e for e in (entry.history if entry else []) if label in (None, e.label)]

    def version_for(self, name: str, ref: str) -> PromptVersion:
        """A version string or a label name, resolved to a loaded version."""
        if VERSION_PATTERN.match(ref):
            return self.get_version(name, ref)
        if LABEL_PATTERN.match(ref):
            labels = self.labels(name)
            if ref not in labels:
                raise PromptNotFound(f"{name} has no label {ref!r} ({self._choices(name, labels)})")
            return self.get_version(name, labels[ref])
        raise PromptNotFound(
            f"{ref!r} is neither a version (MAJOR.MINOR.PATCH) nor a label name ({self._choices(name)})"
        )

    def _choices(self, name: str, labels: dict[str, str] | None = None) -> str:
        """What a caller can pin instead: "labels: production; versions: 1.0.0, 1.1.0"."""
        labels = self.labels(name) if labels is None else labels
        versions = [v.version for v in self.get(name)]
        return f"labels: {', '.join(labels) or 'none'}; versions: {', '.join(versions)}"

    def resolve(
        self,
        name: str,
        *,
        pinned_version: str | None = None,
        label: str | None = None,
        subject: str | None = None,
        canary_share: float = 0.0,
    ) -> ResolvedPrompt:
        """Choose the version for one request.

        Precedence: a pin (version or label name) > an explicit label > the canary
        split (``candidate`` for a stable ``canary_share`` of subjects) > production.
        """
        if pinned_version is not None:
            chosen = self.version_for(name, pinned_version)
            if chosen.release is None and not self.allow_drafts:
                raise PromptNotFound(f"{chosen.ref} is a draft; release it before serving it")
            return ResolvedPrompt.of(chosen, "pinned")
        labels = self._labels_of(name)
        if label is not None:
            if label not in labels:
                raise PromptNotFound(f"{name} has no label {label!r} ({self._choices(name, labels)})")
            return ResolvedPrompt.of(self.get_version(name, labels[label]), label)
        if CANDIDATE in labels and in_canary(subject, name, canary_share):
            return ResolvedPrompt.of(
                self.get_version(name, labels[CANDIDATE]), "candidate (canary)"
            )
        if PRODUCTION not in labels:
            raise PromptNotFound(f"{name} has no {PRODUCTION!r} label; promote a released version")
        return ResolvedPrompt.of(self.get_version(name, labels[PRODUCTION]), PRODUCTION)

    def diff(self, name: str, v1: str, v2: str) -> str:
        """Unified diff of two versions' YAML files (each given as a version or a label)."""
        a, b = self.version_for(name, v1), self.version_for(name, v2)
        lines = difflib.unified_diff(
            a.text.splitlines(keepends=True),
            b.text.splitlines(keepends=True),
            fromfile=f"{a.ref} ({a.path.name})",
            tofile=f"{b.ref} ({b.path.name})",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    # -- changing --------------------------------------------------------------

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="milliseconds")

    def release(self, name: str, version: str, *, actor: str) -> tuple[LockEntry, bool]:
        """Add a draft to LOCK.json, re-validating the file as it is on disk now."""
        fresh = load_template(self.get_version(name, version).path)
        entry, added = add_release(
            self.lock_file,
            fresh.ref,
            fresh.sha256,
            actor=_required(actor, "actor"),
            now=self._clock().astimezone(UTC),
        )
        # Only the versions change; the label registry is not touched by a release.
        self._versions = load_versions(self.templates_dir, self.lock_file)
        return entry, added

    def _released(self, name: str, version: str) -> PromptVersion:
        found = self.get_version(name, version)
        if found.release is None:
            raise RegistryError(
                f"{found.ref} is a draft; run `ladder prompts release {found.ref}` first"
            )
        return found

    def _record(
        self,
        name: str,
        label: str,
        target: Callable[[PromptLabels], str],
        fields: dict[str, object],
    ) -> HistoryEntry:
        """Append one history entry under the file lock; ``target`` picks the version."""

        def change(document: RegistryDocument) -> HistoryEntry:
            entry = document.for_prompt(name)
            version = self._released(name, target(entry)).version
            return entry.record(
                {
                    **fields,
                    "label": label,
                    "from": entry.labels.get(label),
                    "to": version,
                    "at": self._now(),
                }
            )

        recorded = self._store.mutate(change, self._label_new_prompts)
        if self._snapshot is not None:
            self._snapshot = _Snapshot(None, self._snapshot.document)
        return recorded

    def move_label(
        self, name: str, label: str, version: str, *, actor: str, reason: str | None = None
    ) -> HistoryEntry:
        """Point ``label`` at a released version. Gated labels must go through promote()."""
        check_label(label)
        if label in self.gated_labels:
            raise RegistryError(f"{label!r} is gated: use promote() so the release gate runs")
        self._released(name, version)
        fields: dict[str, object] = {
            "action": "move",
            "actor": _required(actor, "actor"),
            "reason": reason,
        }
        return self._record(name, label, lambda _: version, fields)

    def promote(
        self,
        name: str,
        version: str,
        *,
        gate: ReleaseGate | None,
        force: bool = False,
        reason: str | None = None,
        actor: str,
        label: str = PRODUCTION,
    ) -> HistoryEntry:
        """Move ``label`` (production by default) to ``version``, through the release gate.

        For a gated label the gate must pass. ``force=True`` overrides a failing or
        missing gate but needs a reason; both are recorded in the history.
        """
        check_label(label)
        actor = _required(actor, "actor")
        ref = self._released(name, version).ref
        if force:
            reason = _required(reason, "a reason for --force")
        record = None
        if label in self.gated_labels:
            record = gate_verdict(gate, name, version, ref=ref, label=label, force=force)
        fields: dict[str, object] = {
            "action": "promote",
            "actor": actor,
            "reason": reason,
            "forced": force,
            "gate": record.model_dump() if record else None,
        }
        return self._record(name, label, lambda _: version, fields)

    def rollback(
        self, name: str, label: str = PRODUCTION, *, actor: str, reason: str
    ) -> HistoryEntry:
        """Move ``label`` back to the version it pointed at before (no gate: it served before)."""
        check_label(label)
        fields: dict[str, object] = {
            "action": "rollback",
            "actor": _required(actor, "actor"),
            "reason": _required(reason, "a reason for the rollback"),
        }
        self.get(name)
        return self._record(name, label, lambda entry: rollback_target(entry, label), fields)
