"""Copy every bench/results/*.md into BENCHMARKS.md's details block.

    python bench/assemble_benchmarks.py

Each benchmark script rewrites its own section of bench/results/<area>.md; this
script gathers them so BENCHMARKS.md always shows the latest figures with their
commands and machine lines. The summary above the block is written by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_file import update_section

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["retrieval", "embedding", "gateway", "gateway_speed", "load", "guardrails", "ledger", "prompts", "evals", "web"]


def _demote(markdown: str) -> str:
    # The area's "# Title" becomes "### Title" under BENCHMARKS.md's "## Details".
    return re.sub(r"^(#{1,4}) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", markdown, flags=re.MULTILINE)


def main() -> None:
    results = ROOT / "bench" / "results"
    names = [n for n in ORDER if (results / f"{n}.md").is_file()]
    names += sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER)
    parts = []
    for name in names:
        text = (results / f"{name}.md").read_text(encoding="utf-8")
        text = re.sub(r"<!-- (BEGIN|END) [^>]+ -->\n?", "", text)
        parts.append(f"<a id=\"{name}\"></a>\n\n" + _demote(text).strip())
    update_section(ROOT / "BENCHMARKS.md", "details", "\n\n---\n\n".join(parts))


if __name__ == "__main__":
    main()
