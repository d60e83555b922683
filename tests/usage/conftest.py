from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.usage.ledger import Ledger


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ladder.db"


@pytest.fixture
def ledger(db_path: Path) -> Iterator[Ledger]:
    started = Ledger(db_path, flush_interval_s=0.05)
    started.start()
    yield started
    started.close()
