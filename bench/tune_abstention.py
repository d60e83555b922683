"""Tune the extractive provider's evidence threshold on the abstention dev set.

Runs each dev question through input guards, query planning and retrieval (the
real pipeline up to the provider), computes the provider's evidence score, and
reports the threshold with the best balanced accuracy. The golden set is not
used here, so it stays an independent measure.

    python bench/tune_abstention.py            # needs a built index (ladder ingest)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gateway.orchestrator import Orchestrator
from gateway.pipeline_types import PipelineRequest
from gateway.providers.extractive import ExtractiveProvider
from gateway.services import Services
from gateway.settings import load_settings

DEV = Path(__file__).resolve().parent.parent / "evals" / "dev" / "abstention_dev.jsonl"


async def scores() -> list[tuple[float, bool, str]]:
    services = Services(load_settings())
    await services.start()
    orchestrator = Orchestrator(services)
    provider = ExtractiveProvider()
    out = []
    try:
        for line in DEV.read_text().splitlines():
            case = json.loads(line)
            request = PipelineRequest(messages=[{"role": "user", "content": case["question"]}],
                                      temperature=0.0, use_cache=False)
            prepared = await orchestrator._prepare(request, None)  # noqa: SLF001 - a tuning probe
            orchestrator._release(prepared)  # noqa: SLF001
            if prepared.early is not None:
                continue  # refused by an input guard: not the provider's decision
            assert prepared.plan is not None
            out.append((provider.assess(prepared.plan.focus, prepared.passages, prepared.term_weights), case["answerable"],
                        case["question"]))
    finally:
        await services.close()
    return out


def main() -> None:
    rows = asyncio.run(scores())
    best = (0.0, 0.0)
    for step in range(20, 71):
        threshold = step / 100
        tpr = sum(s >= threshold for s, a, _ in rows if a) / max(1, sum(a for _, a, _ in rows))
        tnr = sum(s < threshold for s, a, _ in rows if not a) / max(1, sum(not a for _, a, _ in rows))
        balanced = (tpr + tnr) / 2
        if balanced > best[1]:
            best = (threshold, balanced)
    for score, answerable, question in sorted(rows):
        print(f"{score:.3f} {'ANS' if answerable else 'no '} {question}")
    print(f"best threshold {best[0]:.2f}  balanced accuracy {best[1]:.3f}  (n={len(rows)})")


if __name__ == "__main__":
    main()
