"""``ladder eval …``: run the golden set, compare runs, gate a release, export feedback.

The pipeline runner is injectable: ``build_app(runner_factory=...)`` is what the
tests use with the doubles of ``evals.testing``; ``register`` wires the default
(in-process pipeline, or HTTP with ``--url``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.common import console, fail, settings_or_exit

if TYPE_CHECKING:
    from evals.runner import RunnerFactory
    from evals.suite import SuiteRun
    from gateway.settings import Settings

Golden = Annotated[list[Path] | None, typer.Option(
    "--golden", help="Golden JSONL file (repeatable); default: evals/golden/*.jsonl")]
BaselinesDir = Annotated[Path | None, typer.Option(
    "--baselines-dir", help="Where stored baselines live (default evals/baselines)")]
Url = Annotated[str | None, typer.Option("--url", help="Evaluate a running server instead")]
ApiKey = Annotated[str | None, typer.Option(
    "--api-key", envvar="LADDER_API_KEY", help="Bearer key for --url", show_default=False)]
Concurrency = Annotated[int, typer.Option("--concurrency", min=1, help="Cases in flight at once")]
RunDir = Annotated[Path, typer.Argument(help="Run directory (or its summary.json)")]


def _parse_prompt(spec: str | None, settings: Settings | None) -> str | None:
    if spec is None:
        return None
    name, sep, version = spec.partition("@")
    if not sep or not name or not version:
        fail(f"--prompt must be NAME@VERSION (or NAME@LABEL), got {spec!r}", code=2)
    if settings is not None and name != settings.prompts.default_name:
        fail(f"the pipeline answers with prompt {settings.prompts.default_name!r}; "
             f"cannot pin {name!r}", code=2)
    return version


def _golden_paths(golden: list[Path] | None) -> list[Path]:
    from evals.schema import default_golden_files

    paths = list(golden) if golden else default_golden_files()
    if not paths:
        fail("no golden files: pass --golden FILE or add evals/golden/*.jsonl", code=2)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        fail(f"golden file(s) not found: {', '.join(missing)}", code=2)
    return paths


def _execute(
    factory: RunnerFactory, settings: Settings | None, *, golden: list[Path] | None,
    prompt_version: str | None, model: str | None, repeat: int, url: str | None,
    api_key: str | None, concurrency: int, slices: list[str], cases: list[str],
) -> SuiteRun:
    """Run the suite with a progress bar; any harness error becomes a clean CLI failure."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evals.errors import EvalError
    from evals.runner import RunOptions, Target
    from evals.schema import GoldenError
    from evals.suite import evaluate, load_cases

    paths = _golden_paths(golden)
    try:
        selected = load_cases(paths, slices=slices, ids=cases)
        options = RunOptions(model=model, prompt_version=prompt_version, repeat=repeat,
                             concurrency=concurrency)
    except (GoldenError, ValueError) as exc:
        fail(str(exc), code=2)
    if not selected:
        fail("no golden case matches the --slice/--case filters", code=2)

    async def go() -> SuiteRun:
        target = Target(url=url, api_key=api_key, model=model)
        with Progress(TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task("cases", total=len(selected) * repeat)
            async with factory(settings, target) as runner:  # type: ignore[arg-type]
                return await evaluate(
                    selected, runner, options, golden_paths=paths, settings=settings,
                    mode=f"http {url}" if url else "in-process",
                    on_attempt=lambda _case: progress.advance(task),
                )

    try:
        suite = asyncio.run(go())
    except GoldenError as exc:  # a case cites a section the index does not have
        fail(str(exc), code=2)
    except EvalError as exc:
        fail(str(exc))
    failure = suite.total_failure()
    if failure:
        fail(failure)
    return suite


def _load(path: Path) -> dict[str, Any]:
    from evals.errors import RunDirError
    from evals.rundir import load_summary

    try:
        return load_summary(path)
    except RunDirError as exc:
        fail(str(exc), code=2)


def _default_baseline(summary: dict[str, Any], directory: Path | None) -> tuple[dict[str, Any] | None, str | None]:
    from evals.gate import baseline_path
    from evals.rundir import BASELINES_DIR

    name = summary["metadata"]["prompt"].partition("@")[0]
    path = baseline_path(name, directory or BASELINES_DIR)
    return (_load(path), str(path)) if path.is_file() else (None, None)


def build_app(runner_factory: RunnerFactory | None = None) -> typer.Typer:
    app = typer.Typer(help="Golden-set evaluation: run, compare, gate, export feedback.",
                      no_args_is_help=True)

    def factory() -> RunnerFactory:
        if runner_factory is not None:
            return runner_factory
        from evals.runner import open_runner

        return open_runner

    @app.command("run")
    def run(
        golden: Golden = None,
        prompt: Annotated[str | None, typer.Option(
            "--prompt", help="Pin NAME@VERSION (or NAME@LABEL); default: the production label")] = None,
        model: Annotated[str | None, typer.Option(
            "--model", help="Model alias (default: the server's)")] = None,
        repeat: Annotated[int, typer.Option(
            "--repeat", min=1, help="Run each case N times and average")] = 1,
        url: Url = None,
        api_key: ApiKey = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Run directory (default evals/runs/...)")] = None,
        concurrency: Concurrency = 8,
        baseline: Annotated[Path | None, typer.Option(
            "--baseline", help="Run dir to show deltas against")] = None,
        slices: Annotated[list[str] | None, typer.Option(
            "--slice", help="Only cases of this slice (repeatable)")] = None,
        cases: Annotated[list[str] | None, typer.Option(
            "--case", help="Only this case id (repeatable)")] = None,
    ) -> None:
        """Run the golden set and write results.jsonl, summary.json and report.html."""
        from evals.console import print_summary
        from evals.runner import PRODUCTION_LABEL
        from evals.suite import save

        # With --url the server has its own settings; LADDER_API_KEY is not one of ours.
        settings = None if url else settings_or_exit()
        version = _parse_prompt(prompt, settings) or PRODUCTION_LABEL
        base = _load(baseline) if baseline else None
        suite = _execute(factory(), settings, golden=golden, prompt_version=version, model=model,
                         repeat=repeat, url=url, api_key=api_key, concurrency=concurrency,
                         slices=slices or [], cases=cases or [])
        directory = save(suite, out, baseline=base)
        print_summary(console, suite.summary)
        console.print(f"run directory: {directory}")

    @app.command("compare")
    def compare(
        baseline: RunDir,
        candidate: RunDir,
        all_slices: Annotated[bool, typer.Option(
            "--all-slices", help="Show every slice, not only changes")] = False,
    ) -> None:
        """Per-metric and per-slice deltas with paired bootstrap CIs, and flipped cases."""
        from evals.compare import compare_summaries
        from evals.console import print_comparison

        comparison = compare_summaries(_load(baseline), _load(candidate))
        print_comparison(console, comparison, all_slices=all_slices)

    @app.command("gate")
    def gate(
        run_dir: Annotated[Path | None, typer.Argument(
            help="Run to gate; default: run the suite now")] = None,
        baseline: Annotated[Path | None, typer.Option(
            "--baseline", help="Baseline run; default evals/baselines/<prompt>.summary.json")] = None,
        no_baseline: Annotated[bool, typer.Option("--no-baseline", help="Check floors only")] = False,
        thresholds: Annotated[Path | None, typer.Option(
            "--thresholds", help="Default evals/thresholds.yaml")] = None,
        golden: Golden = None,
        url: Url = None,
        api_key: ApiKey = None,
        concurrency: Concurrency = 8,
        out: Annotated[Path | None, typer.Option(
            "--out", help="When running: the run directory")] = None,
        baselines_dir: BaselinesDir = None,
    ) -> None:
        """Apply the thresholds (floors and regressions); exit 1 when the gate fails."""
        from evals.console import print_gate, print_summary
        from evals.errors import ThresholdsError
        from evals.gate_rules import evaluate_gate
        from evals.metrics import default_metrics
        from evals.runner import EXTRACTIVE_MODEL, PRODUCTION_LABEL
        from evals.suite import save
        from evals.thresholds import DEFAULT_THRESHOLDS, load_thresholds

        try:
            limits = load_thresholds(thresholds or DEFAULT_THRESHOLDS, metrics=default_metrics().names())
        except ThresholdsError as exc:
            fail(str(exc), code=2)
        suite = None
        if run_dir is None:
            settings = None if url else settings_or_exit()
            suite = _execute(factory(), settings, golden=golden, prompt_version=PRODUCTION_LABEL,
                             model=EXTRACTIVE_MODEL, repeat=1, url=url, api_key=api_key,
                             concurrency=concurrency, slices=[], cases=[])
            candidate = suite.summary
        else:
            candidate = _load(run_dir)
        base, source = None, None
        if baseline is not None:
            base, source = _load(baseline), str(baseline)
        elif not no_baseline:
            base, source = _default_baseline(candidate, baselines_dir)
        report = evaluate_gate(candidate, limits, base)
        report.notes.append(f"baseline: {source or 'none'}")
        if suite is not None:
            print_summary(console, candidate)
            directory = save(suite, out, baseline=base, thresholds=limits, gate=report.as_dict())
            console.print(f"run directory: {directory}")
        print_gate(console, report)
        if not report.passed:
            raise typer.Exit(1)

    @app.command("save-baseline")
    def save_baseline(run_dir: RunDir, baselines_dir: BaselinesDir = None) -> None:
        """Store a run's summary as evals/baselines/<prompt>.summary.json (the gate's default)."""
        from evals.gate import baseline_path
        from evals.rundir import BASELINES_DIR, write_json

        summary = _load(run_dir)
        name = summary["metadata"]["prompt"].partition("@")[0]
        if not name or name == "unknown":
            fail("the run has no prompt name in its metadata; cannot name the baseline", code=2)
        target = baseline_path(name, baselines_dir or BASELINES_DIR)
        write_json(target, summary)
        console.print(f"baseline for {name}: {target} ({summary['metadata']['prompt']})")

    @app.command("export-feedback")
    def export_feedback(
        out: Annotated[Path | None, typer.Option("--out", help="JSONL file (default: stdout)")] = None,
        since: Annotated[str | None, typer.Option(
            "--since", help="UTC start: YYYY-MM-DD, ISO, 24h, 7d")] = None,
    ) -> None:
        """Turn thumbs-up/down feedback into candidate golden cases (a human completes them)."""
        import json

        from evals.errors import FeedbackUnavailable
        from evals.feedback_export import export_candidates
        from evals.rundir import write_text_atomic

        settings = settings_or_exit()
        start = None
        if since:
            from gateway.usage.reports import parse_when

            try:
                start = parse_when(since)
            except ValueError as exc:
                fail(str(exc), code=2)
        try:
            candidates = export_candidates(settings.ledger_path, since=start)
        except FeedbackUnavailable as exc:
            fail(str(exc))
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_text_atomic(out, text)
            console.print(f"{len(candidates)} candidate case(s) written to {out}; "
                          "each needs a question, a slice and expectations before use")

    return app


def register(app: typer.Typer) -> None:
    app.add_typer(build_app(), name="eval")
