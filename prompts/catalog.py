"""Loading the whole templates folder and checking it against the release lock."""

from __future__ import annotations

from pathlib import Path

from prompts.errors import PromptEdited, RegistryError
from prompts.fileio import content_hash
from prompts.loader import discover, load_template
from prompts.lockfile import read_lock
from prompts.schema import version_key
from prompts.versions import PromptVersion

Versions = dict[str, dict[str, PromptVersion]]


def next_patch(version: str, taken: set[str]) -> str:
    """The first free patch version after ``version`` (what an editor should create)."""
    major, minor, patch = version_key(version)
    patch += 1
    while f"{major}.{minor}.{patch}" in taken:
        patch += 1
    return f"{major}.{minor}.{patch}"


def _hash_of(path: Path) -> str:
    try:
        return content_hash(path.read_bytes())
    except OSError as exc:
        raise RegistryError(f"cannot read {path}: {exc.strerror}") from exc


def load_versions(templates_dir: Path, lock_file: Path) -> Versions:
    """Load and validate every template; refuse a released file whose hash changed.

    A version listed in the lock whose file is gone is refused too: labels, pins
    and audit trails may point at it.
    """
    lock = read_lock(lock_file)
    versions: Versions = {}
    for path in discover(templates_dir):
        # The hash is checked before validation: for an edited release, "create a new
        # version" is the useful message, whatever else the edit broke.
        entry = lock.released.get(f"{path.parent.name}@{path.stem}")
        if entry is not None:
            found = _hash_of(path)
            if found != entry.sha256:
                siblings = {p.stem for p in path.parent.glob("*.yaml")}
                ref = f"{path.parent.name}@{path.stem}"
                raise PromptEdited(ref, next_patch(path.stem, siblings), path, entry.sha256, found)
        loaded = load_template(path)
        family = versions.setdefault(loaded.template.name, {})
        family[loaded.template.version] = PromptVersion(loaded=loaded, release=entry)
    for ref in lock.released:
        name, _, version = ref.partition("@")
        if version not in versions.get(name, {}):
            missing = templates_dir / name / f"{version}.yaml"
            raise RegistryError(
                f"{ref} is released in {lock_file} but {missing} is missing; "
                "released versions must not be deleted"
            )
    return versions
