"""Tune the extractive provider's evidence threshold on the abstention dev set.

Runs each dev question through input guards, query planning and retrieval (the
real pipeline up to the provider), computes the provider's evidence score, and
reports the threshold with the best accuracy under the prior that users' questions
are mostly answerable (ANSWERABLE_PRIOR, an assumption about traffic, stated here so
it can be argued with): wrongly abstaining on the many answerable questions costs
more in total than answering the few the blueprints cannot. The golden set is not
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

# Share of real questions the blueprints can answer (assumed; employees ask about roles).
ANSWERABLE_PRIOR = 0.85
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
            prepared = await orchestrator._prepare(request, None)
            orchestrator._release(prepared)
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
    scored = []
    for step in range(200, 701):
        threshold = step / 1000
        tpr = sum(s >= threshold for s, a, _ in rows if a) / max(1, sum(a for _, a, _ in rows))
        tnr = sum(s < threshold for s, a, _ in rows if not a) / max(1, sum(not a for _, a, _ in rows))
        scored.append((ANSWERABLE_PRIOR * tpr + (1 - ANSWERABLE_PRIOR) * tnr, threshold))
    top = max(score for score, _ in scored)
    plateau = [t for score, t in scored if score >= top - 1e-9]
    # Among equally accurate thresholds, the lowest: with mostly answerable traffic,
    # answering more is the better side to err on.
    best = (plateau[0], top)
    for score, answerable, question in sorted(rows):
        print(f"{score:.3f} {'ANS' if answerable else 'no '} {question}")
    print(f"best plateau {plateau[0]:.3f}-{plateau[-1]:.3f}, chosen {best[0]:.3f}  expected accuracy {best[1]:.3f} at prior "
          f"{ANSWERABLE_PRIOR:.2f}  (n={len(rows)})")


if __name__ == "__main__":
    main()
