"""One evaluation run end to end: cases → runner → scores → summary → run directory.

Used by ``ladder eval run``, ``ladder eval gate`` and ``evals.gate.GoldenGate``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.metrics import MetricRegistry, default_metrics
from evals.pii import load_pii_scanner
from evals.report import render_report
from evals.rundir import (
    DEFAULT_RUNS_DIR,
    git_commit,
    redact,
    run_dir_name,
    sha256_file,
    write_run,
)
from evals.runner import PipelineRunner, RunOptions, run_cases
from evals.schema import GoldenCase, load_golden
from evals.scoring import CaseScore, score_cases
from evals.sources import check_expected_sources
from evals.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from evals.summary import build_summary, case_record
from evals.thresholds import Thresholds

if TYPE_CHECKING:
    from gateway.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


@dataclass
class SuiteRun:
    scores: list[CaseScore]
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    directory: Path | None = None

    def total_failure(self) -> str | None:
        """A message when every case errored: the pipeline is broken, not bad at answering."""
        counts = self.summary["counts"]
        if not counts["cases"] or counts["errors"] < counts["cases"]:
            return None
        first = next(r["error"] for r in self.records if r["error"])
        return f"every case failed in the pipeline, e.g. {first}"


def golden_file_info(paths: Sequence[Path]) -> list[dict[str, Any]]:
    info = []
    for path in paths:
        resolved = path.resolve()
        shown = resolved.relative_to(PROJECT_ROOT) if resolved.is_relative_to(PROJECT_ROOT) else resolved
        cases = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        info.append({"path": str(shown), "sha256": sha256_file(path), "cases": cases})
    return info


def load_cases(paths: Sequence[Path], *, slices: Sequence[str] = (), ids: Sequence[str] = ()) -> list[GoldenCase]:
    cases = load_golden(paths)
    if slices:
        cases = [c for c in cases if c.slice in set(slices)]
    if ids:
        cases = [c for c in cases if c.id in set(ids)]
    return cases


def settings_snapshot(settings: Settings | None) -> dict[str, Any] | None:
    if settings is None:
        return None
    return redact(settings.model_dump(mode="json"))


def _most_common(values: list[str], fallback: str = "unknown") -> str:
    present = [v for v in values if v]
    return Counter(present).most_common(1)[0][0] if present else fallback


def run_metadata(
    scores: Sequence[CaseScore], options: RunOptions, *, started: datetime, finished: datetime,
    duration_s: float, golden: list[dict[str, Any]], mode: str, settings: Settings | None,
    pii_scan: bool | None, sources_checked: str = "not checked",
) -> dict[str, Any]:
    results = [a.result for s in scores for a in s.attempts if a.error is None]
    prompts = [f"{r.prompt.name}@{r.prompt.version}" for r in results if r.prompt.name]
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 3),
        "mode": mode,
        "prompt": _most_common(prompts),
        "prompts_seen": dict(Counter(prompts)),
        "prompt_requested": options.prompt_version,
        "model": options.model or _most_common([r.model for r in results]),
        "models_seen": dict(Counter(r.model for r in results if r.model)),
        "providers": sorted({r.provider for r in results if r.provider}),
        "index_version": _most_common([r.index_version for r in results]),
        "repeat": options.repeat,
        "concurrency": options.concurrency,
        "top_k": options.top_k,
        "pii_detector": pii_scan,
        "golden_files": golden,
        "expected_sources_check": sources_checked,
        "git_commit": git_commit(),
        "settings": settings_snapshot(settings),
    }


async def evaluate(
    cases: Sequence[GoldenCase],
    runner: PipelineRunner,
    options: RunOptions,
    *,
    golden_paths: Sequence[Path] = (),
    mode: str = "in-process",
    settings: Settings | None = None,
    metrics: MetricRegistry | None = None,
    k: int = 5,
    on_attempt: Callable[[GoldenCase], None] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> SuiteRun:
    """Run and score the cases; nothing is written (see ``save``).

    Before any case runs, the golden files' expected_sources are checked against
    the runner's index: a missing section id raises ``GoldenError`` (file:line, id).
    """
    skipped = await check_expected_sources(golden_paths, runner)
    if skipped:
        log.warning("%s", skipped)
    pii_scanner = None
    custom_metrics = metrics is not None
    if metrics is None:
        pii_scanner = load_pii_scanner()
        metrics = default_metrics(k=k, pii_scanner=pii_scanner)
    started, clock = datetime.now(UTC), time.perf_counter()
    attempts = await run_cases(cases, runner, options, on_attempt=on_attempt)
    duration, finished = time.perf_counter() - clock, datetime.now(UTC)
    scores = score_cases(cases, attempts, metrics, k=k)
    metadata = run_metadata(
        scores, options, started=started, finished=finished, duration_s=duration,
        golden=golden_file_info(golden_paths), mode=mode, settings=settings,
        pii_scan=None if custom_metrics else pii_scanner is not None,
        sources_checked=skipped or "checked against the run's index",
    )
    summary = build_summary(scores, metrics, metadata, resamples=resamples, seed=seed)
    return SuiteRun(scores=scores, records=[case_record(s) for s in scores], summary=summary)


def default_run_dir(run: SuiteRun, root: Path = DEFAULT_RUNS_DIR) -> Path:
    meta = run.summary["metadata"]
    started = datetime.fromisoformat(meta["started_at"])
    base = root / run_dir_name(started, meta["prompt"], meta["model"])
    directory, n = base, 1
    while directory.exists():  # two runs in the same second must not overwrite each other
        n += 1
        directory = base.with_name(f"{base.name}-{n}")
    return directory


def save(
    run: SuiteRun, directory: Path | None = None, *, baseline: dict[str, Any] | None = None,
    thresholds: Thresholds | None = None, gate: dict[str, Any] | None = None,
) -> Path:
    target = directory or default_run_dir(run)
    html = render_report(run.summary, run.records, baseline=baseline, thresholds=thresholds, gate=gate)
    run.directory = write_run(target, run.records, run.summary, html)
    return target
