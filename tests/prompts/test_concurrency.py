"""Concurrent label moves from many processes are serialised: none lost, file never corrupt."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from prompts.registry import PromptRegistry

PROCESSES = 8
MOVES = 25
LABEL = "load-test"


def _mover(templates_dir: str, registry_file: str, worker: int, barrier) -> None:  # type: ignore[no-untyped-def]
    registry = PromptRegistry(Path(templates_dir), Path(registry_file)).load()
    barrier.wait()
    for i in range(MOVES):
        version = "1.0.0" if (worker + i) % 2 else "2.0.0"
        registry.move_label(
            "rag_answer", LABEL, version, actor=f"w{worker}", reason=f"{worker}:{i}"
        )


def test_concurrent_moves_are_all_recorded(templates_dir: Path, tmp_path: Path) -> None:
    registry_file = tmp_path / "shared" / "prompt-registry.json"
    PromptRegistry(templates_dir, registry_file).load()  # create the file first
    # fork: children inherit the imported modules, so the test stays fast.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=_mover, args=(str(templates_dir), str(registry_file), w, barrier))
        for w in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * PROCESSES

    data = json.loads(registry_file.read_text())  # parses: never half-written
    entry = data["prompts"]["rag_answer"]
    moves = [h for h in entry["history"] if h["label"] == LABEL]
    assert len(moves) == PROCESSES * MOVES
    assert sorted(h["reason"] for h in moves) == sorted(
        f"{w}:{i}" for w in range(PROCESSES) for i in range(MOVES)
    )
    assert entry["labels"][LABEL] == moves[-1]["to"]
    assert [h["seq"] for h in entry["history"]] == list(range(1, len(entry["history"]) + 1))
    # Each move saw the state the previous one left: the chain of from/to is unbroken.
    for before, after in zip(moves, moves[1:], strict=False):
        assert after["from"] == before["to"]
    # Each worker's own moves stay in its own order.
    for w in range(PROCESSES):
        mine = [int(h["reason"].split(":")[1]) for h in moves if h["actor"] == f"w{w}"]
        assert mine == list(range(MOVES))
    assert not list(registry_file.parent.glob(".*.tmp"))  # no temp files left behind
    reread = PromptRegistry(templates_dir, registry_file).load()
    assert reread.labels("rag_answer")[LABEL] == moves[-1]["to"]
