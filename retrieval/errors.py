"""Errors raised by retrieval and ingestion.

RetrievalError
 ├── IngestError          one source file could not be read or parsed (per-file, non-fatal)
 ├── ModelUnavailable     the embedding model package is missing
 ├── IndexError_          the on-disk index is missing, corrupt or mismatched
 │    └── IndexNotFound   no complete index version exists yet
 └── QueryError           a search request is invalid (bad filter, empty query)
"""

from __future__ import annotations

from pathlib import Path


class RetrievalError(Exception):
    """Root of retrieval's errors."""


class IngestError(RetrievalError):
    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class ModelUnavailable(RetrievalError):
    """The packaged embedding model cannot be loaded."""


class IndexError_(RetrievalError):
    """The index on disk cannot be used."""


class IndexNotFound(IndexError_):
    """No complete index version exists under the index root."""


class QueryError(RetrievalError):
    """The search request is invalid."""
