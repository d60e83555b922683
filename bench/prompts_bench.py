"""Prompt registry costs on the request path and for operators.

Measures: warm_up (load + validate every shipped template), resolve (production,
canary with a subject, pinned), render of both shipped rag_answer versions with
8 passages of ~800 characters, and a label move (flock + read + fsync'd atomic
replace) as the history grows.

    python bench/prompts_bench.py [--out bench/results/prompts.md]

Works on copies in a temp folder; the repository's files are never written.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prompts.registry import PromptRegistry


def _timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def _row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"| {name} | {len(samples)} | {p50:,.1f} | {p95:,.1f} |"


def _variables() -> dict[str, object]:
    text = (
        "The engineer defines offline and online success metrics, including guardrail "
        "metrics for safety, bias, hallucination, latency and cost; p95 < 200–500ms. "
    ) * 5
    passages = [
        {
            "marker": i,
            "title": "Staff Applied AI Engineer",
            "section_path": f"{i}) Section",
            "text": text[:800],
            "chunk_id": f"staff#{i}",
        }
        for i in range(1, 9)
    ]
    history = [
        {"role": "user", "content": "What does the role do?"},
        {"role": "assistant", "content": "It ships applied AI systems [1]."},
    ]
    return {
        "question": "What are the KPIs?",
        "passages": passages,
        "history": history,
        "role_filter": "Staff Applied AI Engineer",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "prompts.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ladder-prompts-bench-"))
    try:
        templates = work / "templates"
        shutil.copytree(ROOT / "prompts" / "templates", templates)
        registry_file = work / "prompt-registry.json"
        rows: list[str] = []

        def cold_load() -> None:
            registry_file.unlink(missing_ok=True)
            PromptRegistry(templates, registry_file).warm_up()

        rows.append(
            _row("warm_up (cold: validate 2 templates, create registry)", _timed(cold_load, 20))
        )
        rows.append(
            _row(
                "warm_up (registry file exists)",
                _timed(lambda: PromptRegistry(templates, registry_file).warm_up(), 20),
            )
        )

        registry = PromptRegistry(templates, registry_file).load()
        subjects = iter(f"user-{i}" for i in range(10**7))
        rows.append(
            _row("resolve: production", _timed(lambda: registry.resolve("rag_answer"), 5000))
        )
        rows.append(
            _row(
                "resolve: canary split (share 0.1, new subject each call)",
                _timed(
                    lambda: registry.resolve(
                        "rag_answer", subject=next(subjects), canary_share=0.1
                    ),
                    5000,
                ),
            )
        )
        rows.append(
            _row(
                "resolve: pinned 2.0.0",
                _timed(lambda: registry.resolve("rag_answer", pinned_version="2.0.0"), 5000),
            )
        )
        variables = _variables()
        for version in ("1.0.0", "2.0.0"):
            prompt = registry.resolve("rag_answer", pinned_version=version)
            rows.append(
                _row(
                    f"render rag_answer@{version} (8 × 800-char passages)",
                    _timed(lambda p=prompt: p.render(**variables), 2000),
                )
            )

        versions = iter(["1.0.0", "2.0.0"] * 1000)
        rows.append(
            _row(
                "move_label (history 2 → 202 entries)",
                _timed(
                    lambda: registry.move_label(
                        "rag_answer", "bench", next(versions), actor="bench"
                    ),
                    200,
                ),
            )
        )
        rows.append(
            _row(
                "resolve right after another process's move (re-read file)",
                _timed(lambda: (registry_file.touch(), registry.resolve("rag_answer")), 200),
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    machine = (
        f"{os.cpu_count()}-core {platform.machine()} CPU ({platform.system()}), no GPU, "
        f"Python {platform.python_version()}"
    )
    report = "\n".join(
        [
            "# Prompt registry benchmarks",
            "",
            "Command: `python bench/prompts_bench.py`  ",
            f"Machine: {machine}  ",
            f"Date: {time.strftime('%Y-%m-%d', time.gmtime())}  ",
            f"1-minute load average at the end: {os.getloadavg()[0]:.1f} "
            "(above ~1 means other work shared the cores; p95 is then pessimistic)",
            "",
            "| operation | runs | p50 µs | p95 µs |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            "resolve() stats the registry file on every call so label moves by the CLI take",
            "effect without a restart; it re-reads the JSON only when (inode, mtime, size)",
            "changed.",
            "move_label holds an flock, re-reads the file and fsyncs the temp file and its folder.",
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
