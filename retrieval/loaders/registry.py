"""Loader registry: built-ins register the same way an extension would."""

from __future__ import annotations

from pathlib import Path

from retrieval.errors import IngestError
from retrieval.loaders.base import Loader
from retrieval.loaders.html import HtmlLoader
from retrieval.loaders.markdown import MarkdownLoader
from retrieval.loaders.wordpress import WordPressLoader

_LOADERS: list[Loader] = []


def register_loader(loader: Loader) -> None:
    _LOADERS.insert(0, loader)  # later registrations win, so an extension can override


def loader_for(path: Path) -> Loader:
    name = path.name.lower()
    for loader in _LOADERS:
        if any(name.endswith(suffix) for suffix in loader.suffixes):
            return loader
    known = sorted({s for loader in _LOADERS for s in loader.suffixes})
    raise IngestError(path, f"unknown format (supported: {', '.join(known)})")


def supported_suffixes() -> tuple[str, ...]:
    return tuple(sorted({s for loader in _LOADERS for s in loader.suffixes}))


for _builtin in (HtmlLoader(), WordPressLoader(), MarkdownLoader()):
    register_loader(_builtin)
