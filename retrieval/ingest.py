"""Read files and folders into blueprints, collecting per-file errors instead of aborting."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.documents import Blueprint
from retrieval.errors import IngestError
from retrieval.loaders.registry import loader_for, supported_suffixes

# Files in a corpus folder that are documentation, not blueprints.
_SKIP_NAMES = {"readme.md", "license", "license.md", "changelog.md"}


@dataclass
class IngestReport:
    blueprints: list[Blueprint] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[IngestError]]:
    """Files named directly are always tried; folders contribute files with known suffixes."""
    files: list[Path] = []
    errors: list[IngestError] = []
    suffixes = supported_suffixes()
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                name = child.name.lower()
                if child.is_file() and name.endswith(suffixes) and name not in _SKIP_NAMES:
                    files.append(child)
        elif path.is_file():
            files.append(path)
        else:
            errors.append(IngestError(path, "no such file or folder"))
    return files, errors


def load_paths(
    paths: Iterable[Path], on_file: Callable[[Path, IngestError | None], None] | None = None
) -> IngestReport:
    files, errors = expand_paths(paths)
    report = IngestReport(errors=errors, files=files)
    seen: dict[str, Path] = {}
    for file in files:
        error: IngestError | None = None
        try:
            for blueprint in loader_for(file).load(file):
                if blueprint.slug in seen:
                    raise IngestError(
                        file, f"duplicate slug {blueprint.slug!r} (already read from {seen[blueprint.slug]})"
                    )
                seen[blueprint.slug] = file
                report.blueprints.append(blueprint)
        except IngestError as exc:
            error = exc
            report.errors.append(exc)
        if on_file is not None:
            on_file(file, error)
    return report
