"""``ladder keys create|list|revoke``: API keys in the ledger database."""

from __future__ import annotations

import json

import typer

from gateway.cli.common import console, err_console, fail, settings_or_exit

keys_app = typer.Typer(
    help="Create, list and revoke API keys (stored hashed in the ledger database).",
    no_args_is_help=True,
)


def _store():  # type: ignore[no-untyped-def]
    from gateway.auth.keys import KeyStore
    from gateway.usage.errors import LedgerError

    settings = settings_or_exit()
    store = KeyStore(settings.ledger_path)
    try:
        store.start()
    except LedgerError as exc:
        fail(str(exc))
    return store


def _describe(key) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "id": key.key_id,
        "prefix": key.prefix,
        "name": key.name,
        "scopes": sorted(s.value for s in key.scopes),
        "audience": key.audience.value,
        "rpm": key.rpm,
        "tpm": key.tpm,
        "monthly_budget_usd": key.monthly_budget_usd,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@keys_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what the key is for"),
    scopes: str = typer.Option(
        ...,
        "--scopes",
        help="Comma-separated: chat, answers, search, roles, prompts:write, usage:read, admin",
    ),
    audience: str = typer.Option("employee", "--audience", help="employee, manager or evaluator"),
    rpm: int | None = typer.Option(None, "--rpm", help="Requests per minute (default: settings)"),
    tpm: int | None = typer.Option(None, "--tpm", help="Tokens per minute (default: settings)"),
    budget_usd: float | None = typer.Option(None, "--budget-usd", help="Monthly budget in USD"),
    as_json: bool = typer.Option(False, "--json", help="Print the key and its record as JSON"),
) -> None:
    """Create a key. The key is printed ONCE; only its hash is stored."""
    from gateway.errors import RequestError

    store = _store()
    try:
        created = store.create(
            name, scopes, audience, rpm=rpm, tpm=tpm, monthly_budget_usd=budget_usd
        )
    except RequestError as exc:
        fail(exc.message, code=2)
    finally:
        store.close()
    if as_json:
        console.print_json(json.dumps({"key": created.plain_key, **_describe(created.key)}))
        return
    err_console.print(
        f"created [bold]{created.key.prefix}[/] ({created.key.name}; "
        f"scopes {', '.join(sorted(s.value for s in created.key.scopes))}; "
        f"audience {created.key.audience.value}). Store the key now - it is not shown again:"
    )
    # Plain stdout, no markup, so `KEY=$(ladder keys create ...)` works.
    typer.echo(created.plain_key)


@keys_app.command("list")
def list_keys(
    include_revoked: bool = typer.Option(True, "--all/--active", help="Show revoked keys too"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List keys (never their secrets)."""
    from rich.table import Table

    store = _store()
    try:
        keys = store.list(include_revoked=include_revoked)
    finally:
        store.close()
    if as_json:
        console.print_json(json.dumps([_describe(k) for k in keys]))
        return
    table = Table(title=f"API keys ({len(keys)})")
    for column in (
        "id",
        "name",
        "scopes",
        "audience",
        "rpm",
        "tpm",
        "budget $/mo",
        "created",
        "status",
    ):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.prefix,
            key.name,
            ",".join(sorted(s.value for s in key.scopes)),
            key.audience.value,
            str(key.rpm or "default"),
            str(key.tpm or "default"),
            "none" if key.monthly_budget_usd is None else f"{key.monthly_budget_usd:.2f}",
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d}",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key id or its lk_<id> prefix")) -> None:
    """Revoke a key. Running gateways stop accepting it within a few seconds."""
    from gateway.errors import NotFoundError

    store = _store()
    try:
        key = store.revoke(key_id)
    except NotFoundError as exc:
        fail(exc.message)
    finally:
        store.close()
    err_console.print(f"revoked {key.prefix} ({key.name})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
