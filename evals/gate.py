"""The golden-set release gate (``prompts.gate.ReleaseGate``) behind ``ladder prompts promote``.

``GoldenGate.check(name, version)`` runs the golden suite in-process with the
extractive model and ``version`` pinned, takes a baseline for the current
production version, and applies evals/thresholds.yaml (see ``evals.gate_rules``).

The baseline is the stored ``evals/baselines/<name>.summary.json`` when it was
made from the production version, the same golden files, the same index and
the same model; otherwise the production version is run on the spot, in the
same pipeline. Both runs are saved under evals/runs/ for inspection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from evals.errors import EvalError
from evals.gate_rules import GateReport, evaluate_gate
from evals.metrics import default_metrics
from evals.rundir import BASELINES_DIR, DEFAULT_RUNS_DIR, load_summary
from evals.runner import EXTRACTIVE_MODEL, RunnerFactory, RunOptions, Target, open_runner
from evals.schema import GoldenError, default_golden_files
from evals.suite import SuiteRun, evaluate, golden_file_info, load_cases, save
from evals.thresholds import DEFAULT_THRESHOLDS, load_thresholds
from prompts.gate import GateResult

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even if an event loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from async code (e.g. a server handler): a fresh loop in a worker thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="golden-gate") as pool:
        return pool.submit(asyncio.run, coro).result()


def baseline_path(prompt_name: str, directory: Path = BASELINES_DIR) -> Path:
    return directory / f"{prompt_name}.summary.json"


def stored_baseline_matches(stored: dict[str, Any], *, prompt: str, golden: list[dict[str, Any]],
                            index_version: str, model: str) -> bool:
    meta = stored["metadata"]
    return (
        meta.get("prompt") == prompt
        and [g["sha256"] for g in meta.get("golden_files", [])] == [g["sha256"] for g in golden]
        and meta.get("index_version") == index_version
        and meta.get("model") == model
    )


def production_version(settings: Settings, name: str) -> str | None:
    from prompts.labels import PRODUCTION
    from prompts.registry import PromptRegistry

    registry = PromptRegistry.from_settings(settings)
    registry.load()
    return registry.labels(name).get(PRODUCTION)


class GoldenGate:
    """``ReleaseGate`` over the golden set. The constructor is cheap; ``check`` does the work."""

    def __init__(
        self,
        settings: Settings,
        *,
        runner_factory: RunnerFactory = open_runner,
        thresholds_path: Path = DEFAULT_THRESHOLDS,
        golden_paths: Sequence[Path] | None = None,
        runs_dir: Path | None = DEFAULT_RUNS_DIR,
        baselines_dir: Path = BASELINES_DIR,
        model: str = EXTRACTIVE_MODEL,
        concurrency: int = 8,
    ) -> None:
        self.settings = settings
        self.runner_factory = runner_factory
        self.thresholds_path = thresholds_path
        self.golden_paths = list(golden_paths) if golden_paths is not None else None
        self.runs_dir = runs_dir  # None: keep runs in memory only
        self.baselines_dir = baselines_dir
        self.model = model
        self.concurrency = concurrency

    def check(self, name: str, version: str) -> GateResult:
        try:
            return run_sync(self._check(name, version))
        except (EvalError, GoldenError) as exc:
            # The gate could not judge: that is a refusal to promote, with the reason.
            return GateResult(False, f"golden gate could not run: {exc}", {"error": str(exc)})

    async def _check(self, name: str, version: str) -> GateResult:
        if name != self.settings.prompts.default_name:
            return GateResult(False, (
                f"golden gate evaluates the answering prompt {self.settings.prompts.default_name!r}; "
                f"it has no golden set for {name!r}"), {})
        production = production_version(self.settings, name)
        paths = self.golden_paths if self.golden_paths is not None else default_golden_files()
        if not paths:
            raise EvalError("no golden files found (evals/golden/*.jsonl)")
        cases = load_cases(paths)
        metrics = default_metrics()
        thresholds = load_thresholds(self.thresholds_path, metrics=metrics.names())
        golden = golden_file_info(paths)

        async with self.runner_factory(self.settings, Target(model=self.model)) as runner:
            async def run(prompt_version: str) -> SuiteRun:
                options = RunOptions(model=self.model, prompt_version=prompt_version,
                                     concurrency=self.concurrency)
                return await evaluate(cases, runner, options, golden_paths=paths, settings=self.settings)

            candidate = await run(version)
            failure = candidate.total_failure()
            if failure:
                raise EvalError(failure)
            baseline, source = None, "none (no production version)"
            if production is not None and production != version:
                baseline, source = self._stored(name, production, golden, candidate)
                if baseline is None:
                    base_run = await run(production)
                    baseline, source = base_run.summary, f"fresh run of {name}@{production}"
                    if self.runs_dir is not None:
                        save(base_run, _in(self.runs_dir, base_run))
            elif production == version:
                source = f"none ({name}@{version} is already production)"

        report = evaluate_gate(candidate.summary, thresholds, baseline)
        report.notes.append(f"baseline: {source}")
        directory = None
        if self.runs_dir is not None:
            directory = save(candidate, _in(self.runs_dir, candidate), baseline=baseline,
                             thresholds=thresholds, gate=report.as_dict())
        return GateResult(
            passed=report.passed,
            summary=report.summary_line(f"golden gate {name}@{version}"),
            details=_details(report, candidate, source, directory),
        )

    def _stored(self, name: str, production: str, golden: list[dict[str, Any]],
                candidate: SuiteRun) -> tuple[dict[str, Any] | None, str]:
        path = baseline_path(name, self.baselines_dir)
        if not path.is_file():
            return None, ""
        try:
            stored = load_summary(path)
        except EvalError as exc:
            log.warning("ignoring stored baseline %s: %s", path, exc)
            return None, ""
        meta = candidate.summary["metadata"]
        if stored_baseline_matches(stored, prompt=f"{name}@{production}", golden=golden,
                                   index_version=meta["index_version"], model=meta["model"]):
            return stored, f"stored {path.name}"
        return None, ""


def _in(root: Path, run: SuiteRun) -> Path:
    from evals.suite import default_run_dir

    return default_run_dir(run, root)


def _details(report: GateReport, run: SuiteRun, source: str, directory: Path | None) -> dict[str, Any]:
    return {
        "gate": report.as_dict(),
        "baseline": source,
        "run_dir": str(directory) if directory else None,
        "counts": run.summary["counts"],
        "metrics": {k: v["value"] for k, v in run.summary["metrics"]["overall"].items()},
        "failed_cases": [s.case.id for s in run.scores if not s.passed],
    }
