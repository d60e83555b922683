"""Process helpers for tests and benchmarks that run ``ladder serve`` as a subprocess."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (read from /proc; Linux), sorted."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended between listing and reading
        # The command name in parentheses may hold spaces; the parent pid is the
        # second field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)
