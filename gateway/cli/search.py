"""``ladder search "QUERY"``: run the hybrid retriever against the built index."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import console, fail, settings_or_exit


class ModeChoice(StrEnum):
    hybrid = "hybrid"
    bm25 = "bm25"
    dense = "dense"


class FusionChoice(StrEnum):
    rrf = "rrf"
    weighted = "weighted"


def _snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[
        int | None,
        typer.Option("--k", min=1, max=1000, help="Hits to return (default: retrieval.top_k)."),
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Role slug; repeat for several.")
    ] = None,
    family: Annotated[
        list[str] | None, typer.Option("--family", help="Role family; repeatable.")
    ] = None,
    level: Annotated[
        list[str] | None, typer.Option("--level", help="Level (senior, staff, ...); repeatable.")
    ] = None,
    section: Annotated[
        list[str] | None, typer.Option("--section", help="Section id prefix; repeatable.")
    ] = None,
    mode: Annotated[
        ModeChoice, typer.Option("--mode", help="Retrievers to use.")
    ] = ModeChoice.hybrid,
    fusion: Annotated[
        FusionChoice | None,
        typer.Option("--fusion", help="Fusion method (default: retrieval.fusion)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
    index_dir: Annotated[
        Path | None, typer.Option("--index-dir", help="Index root (default: <data_dir>/index).")
    ] = None,
) -> None:
    """Search the index and show ranked hits with fused, BM25 and dense scores."""
    from rich.table import Table

    from retrieval.embedding.factory import make_embedder
    from retrieval.errors import IndexError_, ModelUnavailable, QueryError
    from retrieval.filters import SearchFilters
    from retrieval.index import load_index
    from retrieval.searcher import HybridSearcher

    settings = settings_or_exit()
    os.environ.setdefault(
        "HF_HUB_DISABLE_PROGRESS_BARS", "1"
    )  # keep stdout/stderr clean for --json
    raw = {"role": role, "family": family, "level": level, "section": section}
    try:
        filters = SearchFilters.parse({key: value for key, value in raw.items() if value})
        embedder = make_embedder(settings.retrieval, settings.model_cache_dir)
        index = load_index(index_dir or settings.index_dir, embedder)
        searcher = HybridSearcher(index, embedder, settings.retrieval)
        hits = searcher.search(
            query, k=k, mode=mode.value, fusion=fusion.value if fusion else None, filters=filters
        )
    except QueryError as exc:
        fail(str(exc), code=2)
    except (IndexError_, ModelUnavailable) as exc:
        fail(str(exc))

    if as_json:
        payload = {
            "query": query,
            "index_version": index.version,
            "hits": [h.as_dict() for h in hits],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not hits:
        console.print("no hits")
        return
    table = Table(
        title=f"{len(hits)} hit(s) for {query!r} (index {index.version})", show_lines=True
    )
    for column, justify in (
        ("#", "right"),
        ("fused", "right"),
        ("bm25", "right"),
        ("dense", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("section")
    table.add_column("text")
    for rank, hit in enumerate(hits, start=1):
        table.add_row(
            str(rank),
            _fmt(hit.score, 4),
            _fmt(hit.bm25_score, 2),
            _fmt(hit.dense_score, 3),
            hit.chunk.path_text,
            _snippet(hit.chunk.text),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("search")(search)
