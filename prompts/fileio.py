"""Crash-safe file writes and an inter-process lock.

A reader must only ever see the old file or the new one, never half of each:
write a temp file in the same directory, fsync it, ``os.replace`` it over the
target (atomic on POSIX), then fsync the directory so the rename survives a
power cut. Writers serialise on ``fcntl.flock`` of a sidecar ``.lock`` file; the
data file itself is never locked because ``os.replace`` swaps its inode.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


def content_hash(raw: bytes) -> str:
    """sha256 of a file's canonical bytes: UTF-8 BOM dropped, CRLF/CR turned into LF.

    Canonicalising line endings keeps a hash stable across a Windows checkout
    with ``core.autocrlf``; any other change, whitespace included, changes it.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    canonical = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(canonical).hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; keep the target's mode, or the usual 0644 for a new file.
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o644
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some filesystems refuse to open directories; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass  # fsync on a directory is unsupported on some filesystems (harmless there)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(path: Path, *, sidecar: bool = True) -> Iterator[None]:
    """Hold an exclusive flock for the block.

    With ``sidecar`` the lock is ``<path>.lock`` (created if needed). Without it the
    containing directory itself is locked, which leaves no stray file behind in a
    folder that is committed to version control (flock works on directories).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if sidecar:
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    else:
        fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
