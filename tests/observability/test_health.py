"""/healthz and /readyz on a real gateway; the ledger's readiness probe on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.usage.ledger import Ledger

from .conftest import Gateway


def test_ready_gateway_reports_each_check(gateway: Gateway) -> None:
    with gateway.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["index"] == {"ok": True, "version": gateway.services.snapshot.version,
                               "chunks": gateway.services.snapshot.index.size}
    assert checks["ledger"] == {"ok": True}
    assert checks["provider"]["ok"] is True and checks["provider"]["model"] == "ladder-extractive"


def test_readyz_is_503_with_detail_while_the_ledger_cannot_write(gateway: Gateway) -> None:
    # Another process holding the write lock: the ledger could not commit right now.
    blocker = sqlite3.connect(gateway.settings.ledger_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with gateway.client() as client:
            response = client.get("/readyz")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["ledger"] == {"ok": False}
    assert body["checks"]["index"]["ok"] and body["checks"]["provider"]["ok"]
    with gateway.client() as client:
        assert client.get("/readyz").status_code == 200


def test_ledger_writable_follows_its_lifecycle(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ladder.db")
    assert not ledger.writable()  # not started
    ledger.start()
    try:
        assert ledger.writable()
    finally:
        ledger.close()
    assert not ledger.writable()


def test_ledger_probe_never_creates_the_database(tmp_path: Path) -> None:
    path = tmp_path / "ladder.db"
    ledger = Ledger(path)
    ledger.start()
    try:
        path.unlink()  # the file went away under a running ledger
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        assert not ledger.writable()
        assert not path.exists()
    finally:
        ledger.close()
