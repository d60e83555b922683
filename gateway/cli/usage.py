"""``ladder usage``: requests, tokens, cost, latency and refusal rates from the ledger."""

from __future__ import annotations

import json

import typer

from gateway.cli.common import console, fail, settings_or_exit


def usage(
    group_by: str = typer.Option("key", "--group-by", help="key, model, prompt_version or day"),
    since: str | None = typer.Option(
        None, "--since", help="Start (inclusive, UTC): YYYY-MM-DD, ISO time, today, 24h, 7d"
    ),
    until: str | None = typer.Option(None, "--until", help="End (exclusive, UTC), same forms"),
    key: str | None = typer.Option(None, "--key", help="Only this key id"),
    as_json: bool = typer.Option(False, "--json", help="Print rows as JSON"),
) -> None:
    """Show usage totals from the ledger."""
    from rich import box
    from rich.table import Table

    from gateway.usage.errors import LedgerError
    from gateway.usage.reports import GROUP_BYS, parse_when, usage_report
    from gateway.usage.schema import open_database

    if group_by not in GROUP_BYS:
        fail(f"--group-by must be one of {', '.join(GROUP_BYS)}", code=2)
    try:
        start = parse_when(since) if since else None
        end = parse_when(until) if until else None
    except ValueError as exc:
        fail(str(exc), code=2)
    settings = settings_or_exit()
    if not settings.ledger_path.is_file():
        rows = []
    else:
        try:
            conn = open_database(settings.ledger_path)
            try:
                rows = usage_report(conn, group_by, start, end, key_id=key)  # type: ignore[arg-type]
            finally:
                conn.close()
        except LedgerError as exc:
            fail(str(exc))
    if as_json:
        console.print_json(json.dumps([row.model_dump() for row in rows]))
        return
    if not rows:
        console.print(f"no usage recorded in that period ({settings.ledger_path})")
        return
    table = Table(
        title=f"usage by {group_by}", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    # Two-line headers: the table must stay readable in an 80-column terminal.
    for column in (
        "group",
        "reqs",
        "tokens\nin",
        "tokens\nout",
        "cost\nUSD",
        "no\nprice",
        "p50\nms",
        "p95\nms",
        "refused",
        "errors",
        "cache\nhits",
    ):
        table.add_column(
            column,
            justify="left" if column == "group" else "right",
            overflow="fold",
            min_width=12 if column == "group" else None,
        )
    for row in rows:
        table.add_row(
            row.group,
            str(row.requests),
            str(row.tokens_in),
            str(row.tokens_out),
            f"{row.cost_usd:.4f}",
            str(row.unpriced_requests),
            f"{row.p50_latency_ms:.0f}",
            f"{row.p95_latency_ms:.0f}",
            f"{row.refusal_rate:.0%}",
            f"{row.error_rate:.0%}",
            f"{row.cache_hit_rate:.0%}",
        )
    console.print(table)
    console.print(
        "[dim]no price: requests to models without a known price (cost unknown, not 0)[/]"
    )


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)
