"""``ladder ingest PATH...``: read blueprints and publish a new index version."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import console, err_console, fail, settings_or_exit


def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Blueprint files or folders (default: the configured corpus_paths)."),
    ] = None,
    index_dir: Annotated[
        Path | None, typer.Option("--index-dir", help="Index root (default: <data_dir>/index).")
    ] = None,
) -> None:
    """Parse blueprints (Markdown, HTML, WordPress JSON) and build the search index.

    A bad file is reported on its own line and skipped; the index is built from
    every file that could be read. Exit code 1 when no file could be read.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from retrieval.embedding.factory import make_embedder
    from retrieval.errors import IngestError, RetrievalError
    from retrieval.index import build_index
    from retrieval.ingest import load_paths

    settings = settings_or_exit()
    # transformers draws its own tqdm bar while loading weights; it tears ours apart.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    sources = list(paths) if paths else list(settings.corpus_paths)
    root = index_dir or settings.index_dir
    started = time.perf_counter()

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        reading = bar.add_task("reading files", total=None)

        def on_file(path: Path, error: IngestError | None) -> None:
            bar.advance(reading)
            if error is not None:
                err_console.print(
                    f"[red]error:[/] {error.path}: {error.reason}", highlight=False, soft_wrap=True
                )

        report = load_paths(sources, on_file=on_file)
        for error in report.errors:
            if error.path not in report.files:  # missing paths never reached on_file
                err_console.print(
                    f"[red]error:[/] {error.path}: {error.reason}", highlight=False, soft_wrap=True
                )
        if not report.blueprints:
            bar.stop()
            tried = len(set(report.files) | {e.path for e in report.errors})
            fail(f"no blueprint could be read from {tried} path(s); nothing was indexed")

        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            embedder = make_embedder(settings.retrieval, settings.model_cache_dir)
            version_dir = build_index(
                report.blueprints, root, settings.retrieval, embedder, on_progress
            )
        except (RetrievalError, OSError) as exc:
            bar.stop()
            fail(f"index build failed: {exc}")

    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    sections = sum(1 for blueprint in report.blueprints for _ in blueprint.walk())
    failed = {e.path for e in report.errors}
    total = len(set(report.files) | failed)
    console.print(
        f"[bold green]indexed[/] files: {total} ({len(failed)} failed), "
        f"blueprints: {len(report.blueprints)}, sections: {sections}, "
        f"chunks: {manifest['counts']['chunks']}, version: {manifest['version']}, "
        f"time: {time.perf_counter() - started:.1f}s",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"index: {version_dir}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
