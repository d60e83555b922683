"""API keys: hashed at rest, verified in constant time, revocable; CLI never shows secrets."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gateway.auth.keys import KeyStore, hash_key, parse_key
from gateway.auth.scopes import Audience, Scope
from gateway.cli import keys as keys_cli
from gateway.errors import NotFoundError, RequestError


def test_created_key_format_and_verification(store: KeyStore) -> None:
    created = store.create(
        "alice", "chat,answers", "manager", rpm=30, tpm=9000, monthly_budget_usd=5
    )
    key_id, secret = parse_key(created.plain_key)  # type: ignore[misc]
    assert created.plain_key.startswith(f"lk_{key_id}_") and len(secret) >= 43
    assert created.key.prefix == f"lk_{key_id}"
    assert created.plain_key not in repr(created)
    verified = store.verify(created.plain_key)
    assert verified is not None and verified.key_id == key_id
    assert verified.scopes == {Scope.CHAT, Scope.ANSWERS}
    assert verified.audience is Audience.MANAGER
    assert (verified.rpm, verified.tpm, verified.monthly_budget_usd) == (30, 9000, 5.0)


def test_the_plain_key_is_never_stored(store: KeyStore, db_path: Path) -> None:
    created = store.create("bob", ["search"])
    key_id, secret = parse_key(created.plain_key)  # type: ignore[misc]
    store.close()  # checkpoint the WAL into the main file before reading bytes
    everything = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert secret.encode() not in everything
    assert created.plain_key.encode() not in everything
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute(
            "SELECT key_hash FROM api_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        cells = [str(c) for row in conn.execute("SELECT * FROM api_keys") for c in row]
    assert stored[0] == hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()
    assert stored[0] == hash_key(key_id, secret)
    assert not any(secret in cell for cell in cells)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret
        lambda k: k.replace("lk_", "lk_0", 1),  # malformed id
        lambda k: "lk_000000000000_" + k.split("_", 2)[2],  # unknown id
        lambda k: "",
        lambda k: "Bearer " + k + " extra",
    ],
)
def test_wrong_or_malformed_keys_do_not_verify(store: KeyStore, mutate) -> None:  # type: ignore[no-untyped-def]
    created = store.create("carol", "chat")
    assert store.verify(mutate(created.plain_key)) is None


def test_revoked_keys_stop_verifying_and_stay_listed(store: KeyStore) -> None:
    created = store.create("dave", "chat")
    revoked = store.revoke(created.key.prefix)  # accepts lk_<id> as well as the id
    assert not revoked.active
    assert store.verify(created.plain_key) is None
    assert store.revoke(created.key.key_id).revoked_at == revoked.revoked_at  # idempotent
    assert [k.key_id for k in store.list()] == [created.key.key_id]
    assert store.list(include_revoked=False) == []
    with pytest.raises(NotFoundError):
        store.revoke("ffffffffffff")


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        (("x", "chat,wizardry"), {}, "unknown scope"),
        (("x", ""), {}, "at least one scope"),
        (("x", "chat", "intern"), {}, "unknown audience"),
        (("", "chat"), {}, "name"),
        (("x", "chat"), {"rpm": 0}, "rpm"),
        (("x", "chat"), {"monthly_budget_usd": -1.0}, "budget"),
        (("x", "chat"), {"monthly_budget_usd": float("nan")}, "budget"),
    ],
)
def test_bad_key_requests_are_clear_400s(store: KeyStore, args, kwargs, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RequestError, match=fragment) as caught:
        store.create(*args, **kwargs)
    assert caught.value.status_code == 400


def cli() -> typer.Typer:
    app = typer.Typer()
    keys_cli.register(app)
    return app


def test_cli_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    made = runner.invoke(
        cli(),
        [
            "keys",
            "create",
            "--name",
            "eval bot",
            "--scopes",
            "answers,usage:read",
            "--audience",
            "evaluator",
            "--rpm",
            "600",
            "--tpm",
            "1000000",
            "--budget-usd",
            "25",
        ],
    )
    assert made.exit_code == 0, made.output
    plain = made.stdout.strip()
    key_id, secret = parse_key(plain)  # type: ignore[misc]
    listed = runner.invoke(cli(), ["keys", "list", "--json"])
    assert listed.exit_code == 0 and secret not in listed.output
    (row,) = json.loads(listed.stdout)
    assert row["id"] == key_id and row["scopes"] == ["answers", "usage:read"]
    assert row["audience"] == "evaluator" and row["monthly_budget_usd"] == 25.0
    table = runner.invoke(cli(), ["keys", "list"])
    assert table.exit_code == 0 and secret not in table.output
    assert runner.invoke(cli(), ["keys", "revoke", key_id]).exit_code == 0
    store = KeyStore(tmp_path / "ladder.db")
    store.start()
    try:
        assert store.verify(plain) is None
    finally:
        store.close()
    assert runner.invoke(cli(), ["keys", "revoke", "nope"]).exit_code == 1
    bad = runner.invoke(cli(), ["keys", "create", "--name", "x", "--scopes", "root"])
    assert bad.exit_code == 2 and "unknown scope" in bad.output
