"""tiktoken, offline.

tiktoken downloads its BPE files on first use. The ``bpe-openai`` package ships
the same ``cl100k_base`` and ``o200k_base`` files (gzipped); tiktoken reads a
file from ``TIKTOKEN_CACHE_DIR`` when it is stored under the SHA-1 of its
download URL, and checks it against the SHA-256 it expects. So we unpack the
packaged files there once and point tiktoken at that folder.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

import tiktoken

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
PACKAGED_ENCODINGS = ("cl100k_base", "o200k_base")
# Families whose tokenizer tiktoken knows; anything else is approximated with
# cl100k_base (documented in the ledger as tokenizer="approx:cl100k_base").
DEFAULT_ENCODING = "cl100k_base"

_lock = threading.Lock()
_prepared: Path | None = None


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ladder" / "tiktoken"


def prepare_offline_encodings(cache_dir: Path | None = None) -> Path:
    """Unpack the packaged encodings where tiktoken looks; idempotent and thread-safe."""
    global _prepared
    with _lock:
        if _prepared is not None and cache_dir in (None, _prepared):
            return _prepared
        target = cache_dir or _cache_dir()
        target.mkdir(parents=True, exist_ok=True)
        package = importlib.resources.files("bpe_openai") / "data"
        for name in PACKAGED_ENCODINGS:
            url = _BLOB.format(name=name)
            dest = target / hashlib.sha1(url.encode()).hexdigest()
            if dest.is_file():
                continue
            data = gzip.decompress((package / f"{name}.tiktoken.gz").read_bytes())
            # Write then rename so a concurrent reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=target, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, dest)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(target)
        _prepared = target
        return target


@lru_cache(maxsize=8)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    prepare_offline_encodings()
    return tiktoken.get_encoding(name)


def encoding_name_for_model(model: str | None) -> tuple[str, bool]:
    """(encoding name, exact?) for a model id; unknown models fall back to cl100k_base."""
    if model:
        try:
            name = tiktoken.encoding_name_for_model(model)
        except KeyError:
            name = None
        if name in PACKAGED_ENCODINGS:
            return name, True
    return DEFAULT_ENCODING, False


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    if not text:
        return 0
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
