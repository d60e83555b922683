"""Run directories: written atomically, read back for compare, gate and reports.

A run directory holds ``results.jsonl``, ``summary.json`` and ``report.html``.
Each file is written to a temporary name and moved into place, so an
interrupted run never leaves a half-written summary that a gate could read.
``load_summary`` also accepts a bare summary file (a stored baseline).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from evals.errors import RunDirError
from evals.summary import SUMMARY_FORMAT

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_RUNS_DIR = EVALS_DIR / "runs"
BASELINES_DIR = EVALS_DIR / "baselines"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp creates 0600; run files are meant to be shared like any other output.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def write_run(directory: Path, records: Iterable[dict[str, Any]], summary: dict[str, Any],
              report_html: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    write_text_atomic(directory / RESULTS_FILE, lines)
    write_text_atomic(directory / REPORT_FILE, report_html)
    # The summary goes last: its presence marks a complete run.
    write_json(directory / SUMMARY_FILE, summary)
    return directory


def run_dir_name(started: datetime, prompt: str, model: str) -> str:
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    return "_".join(_UNSAFE.sub("-", part) for part in (stamp, prompt, model))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunDirError(f"{path}: cannot be read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def load_summary(path: Path) -> dict[str, Any]:
    """A run directory's summary.json, or a summary file given directly."""
    file = path / SUMMARY_FILE if path.is_dir() else path
    if not file.exists():
        hint = " (an unfinished or interrupted run?)" if path.is_dir() else ""
        raise RunDirError(f"{file} does not exist{hint}")
    summary = _read_json(file)
    if not isinstance(summary, dict) or summary.get("format") != SUMMARY_FORMAT:
        raise RunDirError(f"{file} is not a ladder eval summary (format {SUMMARY_FORMAT})")
    for key in ("metadata", "metrics", "cases", "metric_info", "counts"):
        if key not in summary:
            raise RunDirError(f"{file} has no {key!r} section")
    return summary


def load_records(directory: Path) -> list[dict[str, Any]]:
    file = directory / RESULTS_FILE
    if not directory.is_dir() or not file.exists():
        return []
    records = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RunDirError(f"{file}: cannot be read ({exc.strerror})") from exc
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise RunDirError(f"{file}:{number}: not valid JSON ({exc.msg})") from exc
    return records


@dataclass(frozen=True)
class LoadedRun:
    path: Path
    summary: dict[str, Any]
    records: list[dict[str, Any]]


def load_run(path: Path) -> LoadedRun:
    return LoadedRun(path=path, summary=load_summary(path), records=load_records(path))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit(start: Path = EVALS_DIR) -> str | None:
    """The checked-out commit, read from .git without running git; None outside a checkout."""
    for folder in (start, *start.parents):
        git = folder / ".git"
        if git.is_dir():
            break
    else:
        return None
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        loose = git / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip() or None
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
    except OSError:
        return None  # metadata only: an unreadable .git must not fail the run
    return None


# Field names that hold credentials; SecretStr values also dump as this mask.
_SECRET_SUFFIXES = ("api_key", "secret", "password", "_token")
_MASK = "**********"


def redact(value: Any) -> Any:
    """A settings dump with every credential removed (SecretStr or a secret-looking name)."""
    if isinstance(value, dict):
        return {
            k: ("<redacted>" if v is not None and (k.lower().endswith(_SECRET_SUFFIXES) or v == _MASK)
                else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
