"""``ladder serve --workers 2`` with the ONNX embedder: the workers are forked from a
parent that loaded the model and index once, so they share those pages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.testing.procs import children
from retrieval.embedding.model_path import minilm_path
from retrieval.embedding.onnx_export import ensure_exported
from tests.deploy.conftest import ROOT, ladder_env, wait_for


def _memory_kb(pid: int, field: str) -> int:
    source = "status" if field == "VmRSS:" else "smaps_rollup"
    for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_forked_workers_share_one_load_replace_a_lost_worker_and_stop_cleanly(
    serve, data_dir: Path, make_key  # type: ignore[no-untyped-def]
) -> None:
    ensure_exported(minilm_path(), data_dir / "models")  # as `ladder serve` would once; not timed here
    key, _ = make_key("answers")
    server = serve(data_dir, LADDER_WORKERS="2", LADDER_RETRIEVAL__EMBEDDING_BACKEND="onnx")
    workers = children(server.proc.pid)
    assert len(workers) == 2, server.output()

    headers = {"authorization": f"Bearer {key}"}
    questions = ["What availability should an AI endpoint reach?", "Which skills does an MLOps Engineer need?"]
    for question in questions * 2:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:  # a new connection each
            response = client.post("/v1/answers", json={"question": question})
        assert response.status_code == 200, response.text
        assert not response.json()["refused"] and response.json()["citations"], response.json()

    # The model, BPE table and index pages are shared: PSS (shared pages split between the
    # processes holding them) is far below the RSS sum, which counts them once per process.
    tree = [server.proc.pid, *workers]
    rss = sum(_memory_kb(pid, "VmRSS:") for pid in tree)
    pss = sum(_memory_kb(pid, "Pss:") for pid in tree)
    assert pss < 0.7 * rss, (pss, rss)

    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = children(server.proc.pid)
        if len(now) == 2 and workers[0] not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2 and workers[0] not in now and workers[1] in now, server.output()
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        assert client.post("/v1/answers", json={"question": questions[0]}).status_code == 200

    server.terminate()
    assert server.proc.wait(60) == 0, server.output()
    assert not [pid for pid in now if Path(f"/proc/{pid}").exists()]


def _versions(url: str, samples: int = 12) -> set[str]:
    seen = set()
    for _ in range(samples):
        with httpx.Client(base_url=url, timeout=30) as client:  # a new connection: any worker may answer
            seen.add(client.get("/readyz").json()["checks"]["index"]["version"])
    return seen


def test_a_reload_on_one_worker_reaches_every_worker_and_later_forks(
    serve, data_dir: Path, make_key  # type: ignore[no-untyped-def]
) -> None:
    ensure_exported(minilm_path(), data_dir / "models")
    key, _ = make_key("admin")
    server = serve(data_dir, LADDER_WORKERS="2", LADDER_RETRIEVAL__EMBEDDING_BACKEND="onnx")
    (before,) = _versions(server.url)
    ingest = subprocess.run(  # a one-blueprint corpus: a new version that is easy to tell apart
        [sys.executable, "-m", "gateway.cli.main", "ingest", str(ROOT / "corpus" / "staff-data-engineer.md")],
        cwd=data_dir, env=ladder_env(data_dir), capture_output=True, text=True, timeout=600, check=False,
    )
    assert ingest.returncode == 0, ingest.stderr

    reload = httpx.post(f"{server.url}/v1/admin/reload", headers={"authorization": f"Bearer {key}"}, timeout=120)
    assert reload.status_code == 200, reload.text
    body = reload.json()
    assert body["changed"] and body["all_workers"] and body["previous_version"] == before
    after = body["version"]
    # The worker that answered reloaded at once; the parent relays SIGHUP to both, and the
    # other one loads the new version (the first, already on it, keeps its snapshot).
    wait_for(lambda: "index reloaded on SIGHUP" in server.output(), 60, "the other worker to reload")
    assert server.output().count("index reloaded on SIGHUP") == 1, server.output()
    assert _versions(server.url) == {after}

    # A worker forked now starts from the parent's snapshot (the old index) and must catch up.
    workers = children(server.proc.pid)
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: len(children(server.proc.pid)) == 2 and workers[0] not in children(server.proc.pid), 30,
          "a replacement worker")
    wait_for(lambda: _versions(server.url, samples=1) == {after}, 30, "the replacement to be ready")
    assert _versions(server.url, samples=16) == {after}


def test_a_parent_that_cannot_load_says_why_and_exits_3(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    ensure_exported(minilm_path(), empty / "models")
    env = ladder_env(empty, LADDER_WORKERS="2", LADDER_RETRIEVAL__EMBEDDING_BACKEND="onnx")
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "serve", "--port", "0"], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "ladder could not start" in output and "ladder ingest" in output and "Traceback" not in output
