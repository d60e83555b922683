from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.auth.keys import KeyStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ladder.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[KeyStore]:
    keys = KeyStore(db_path)
    keys.start()
    yield keys
    keys.close()


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
