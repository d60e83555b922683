"""``ladder ask``: one question through the whole pipeline, in-process."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from gateway.cli.common import console, fail, settings_or_exit


def ask(
    question: Annotated[str, typer.Argument(help="The question, e.g. 'What availability should an AI endpoint reach?'")],
    role: Annotated[str | None, typer.Option(help="Restrict to one role slug")] = None,
    model: Annotated[str | None, typer.Option(help="Model alias (see `ladder serve` /v1/models)")] = None,
    prompt_version: Annotated[str | None, typer.Option(help="Pin a prompt version or label")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=20, help="Passages to retrieve")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON")] = False,
) -> None:
    """Ask a question and print the grounded, cited answer."""
    settings = settings_or_exit()
    from gateway.errors import LadderError
    from gateway.pipeline import open_pipeline
    from gateway.pipeline_types import PipelineRequest
    from retrieval.errors import RetrievalError

    async def run():  # type: ignore[no-untyped-def]
        async with open_pipeline(settings, model=model) as pipeline:
            return await pipeline.run(
                PipelineRequest(
                    messages=[{"role": "user", "content": question}], route="cli", role=role,
                    top_k=top_k, prompt_version=prompt_version, temperature=0.0,
                )
            )

    try:
        result = asyncio.run(run())
    except (LadderError, RetrievalError) as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - prompts/guardrails errors carry their own message
        fail(f"{type(exc).__name__}: {exc}")
    if as_json:
        from dataclasses import asdict

        console.print_json(json.dumps(asdict(result), default=lambda o: o.model_dump() if hasattr(o, "model_dump") else str(o)))
        return
    style = "yellow" if result.refused else "green"
    console.print(f"[{style}]{result.answer}[/]\n")
    for c in result.citations:
        console.print(f"  [bold][{c.marker}][/] {c.section_path}  [dim]({c.chunk_id})[/]")
    console.print(
        f"\n[dim]{result.model} via {result.provider} · prompt {result.prompt.name}@{result.prompt.version} · "
        f"{result.usage.total_tokens} tokens · {result.latency_ms:.0f} ms · index {result.index_version}[/]"
    )


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
