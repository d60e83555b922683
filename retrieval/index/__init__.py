"""The on-disk retrieval index: versioned builds, atomic publication, checked loads."""

from retrieval.index.builder import Progress, build_index, build_index_from_chunks
from retrieval.index.manifest import FORMAT_VERSION, IndexManifest
from retrieval.index.store import (
    LoadedIndex,
    complete_versions,
    load_index,
    load_version,
    prune_versions,
)

__all__ = [
    "FORMAT_VERSION",
    "IndexManifest",
    "LoadedIndex",
    "Progress",
    "build_index",
    "build_index_from_chunks",
    "complete_versions",
    "load_index",
    "load_version",
    "prune_versions",
]
