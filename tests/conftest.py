"""Test-wide guards: no test may reach the network beyond this machine's loopback.

Everything ladder needs (model weights, tokenizer files) ships with the install,
so blocking the network here is what proves offline operation.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.config import RetrievalConfig
from retrieval.documents import Blueprint
from retrieval.embedding.torch_embedder import TorchEmbedder
from retrieval.index import build_index
from retrieval.ingest import load_paths

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
CORPUS = PROJECT / "corpus"

# Hub libraries must never try to download; the weights are packaged.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
    else:
        return True  # AF_UNIX paths and the like stay on this machine
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname other than localhost would need DNS: refuse


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkBlocked(f"test tried to reach {address!r}; the network is blocked in tests")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkBlocked(f"test tried to reach {address!r}; the network is blocked in tests")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    if host not in (None, "localhost") and not _is_loopback((host, 0)):
        raise NetworkBlocked(f"test tried to resolve {host!r}; the network is blocked in tests")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def block_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared material folder is missing: {SHARED}")
    return SHARED


@pytest.fixture(autouse=True)
def _clean_ladder_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own LADDER_* variables must not change test outcomes."""
    for key in list(os.environ):
        if key.startswith("LADDER_"):
            monkeypatch.delenv(key, raising=False)


# --- the real-corpus index, built once per session and shared by every test package -----
# (the real MiniLM model through PyTorch; the service embeds queries with ONNX, whose
# vectors match within cosine 0.99 and carry the same model name)

@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def corpus_blueprints() -> list[Blueprint]:
    report = load_paths([CORPUS])
    assert report.blueprints, f"no blueprint could be read from {CORPUS}: {report.errors}"
    assert not report.errors, report.errors
    return report.blueprints


@pytest.fixture(scope="session")
def retrieval_config() -> RetrievalConfig:
    return RetrievalConfig(embedding_backend="torch")


@pytest.fixture(scope="session")
def torch_embedder() -> TorchEmbedder:
    embedder = TorchEmbedder()
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def corpus_index_root(
    tmp_path_factory: pytest.TempPathFactory,
    corpus_blueprints: list[Blueprint],
    retrieval_config: RetrievalConfig,
    torch_embedder: TorchEmbedder,
) -> Path:
    root = tmp_path_factory.mktemp("corpus-index")
    build_index(corpus_blueprints, root, retrieval_config, torch_embedder)
    return root


