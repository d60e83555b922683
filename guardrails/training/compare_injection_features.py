"""Compare candidate feature sets for the injection classifier by CV on train.csv.

    python -m guardrails.training.compare_injection_features \
        [--data .../train.csv] [--out guardrails/training/injection_feature_cv.md]

This is how injection/features.py's blocks and weights were chosen: every
candidate goes through the protocol train_injection.py uses for C (5 x 5-fold
stratified CV, pooled out-of-fold scores combined with the strong rules, the
best-F1 threshold with FPR <= 5%), over the same C grid without class weights
(which never changed F1 by more than 0.001 in exploration). The test split is
never read. Writes a markdown table, best first, which
bench/results/guardrails.md includes. About 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from guardrails.injection.features import MAX_LEXICAL_CHARS
from guardrails.injection.lexical import char_ngram_vector, word_vector
from guardrails.injection.rules import combined_score, family_features, scan
from guardrails.normalize import clean_text, scan_views
from guardrails.training.train_injection import (
    C_GRID,
    DEFAULT_DATA,
    cross_validate,
    read_rows,
)
from retrieval.embedding.base import Embedder

DEFAULT_OUT = Path(__file__).resolve().parent / "injection_feature_cv.md"
BlockFn = Callable[[str], np.ndarray]

# Text-only blocks, computed on the clean view cut to MAX_LEXICAL_CHARS.
LEXICAL_BLOCKS: dict[str, BlockFn] = {
    "char3-5": lambda t: char_ngram_vector(t, 3, 5, 4096),
    "char2-4": lambda t: char_ngram_vector(t, 2, 4, 4096),
    "char3-5/8192": lambda t: char_ngram_vector(t, 3, 5, 8192),
    "words": lambda t: word_vector(t, 4096, opening_words=0, ending=False),
    "words+end": lambda t: word_vector(t, 4096, opening_words=0, ending=True),
    "words+open1+end": lambda t: word_vector(t, 4096, opening_words=1, ending=True),
    "words+open2": lambda t: word_vector(t, 4096, opening_words=2, ending=False),
    "words+open2+end": lambda t: word_vector(t, 4096, opening_words=2, ending=True),
    "words+open2+end/2048": lambda t: word_vector(t, 2048, opening_words=2, ending=True),
}

Blocks = list[tuple[str, float]]


def _blocks(
    char: str = "char3-5",
    words: str | None = "words+open2+end",
    embedding: float = 1.0,
    word_weight: float = 1.0,
    rules: float = 0.0,
) -> Blocks:
    """(block, weight) pairs; the defaults are what features.py computes (CHOSEN)."""
    out: Blocks = [("embedding", embedding), (char, 1.0)]
    if words is not None:
        out.append((words, word_weight))
    if rules:
        out.append(("rules", rules))
    return out


# The first is the version-1 model; the rest vary one thing at a time. "rules" is
# version 1's per-family rule weights as a block (the strong-rule override applies
# to every candidate alike).
CHOSEN = "emb, char3-5, words+open2+end (no rule features)"
CANDIDATES: dict[str, Blocks] = {
    "v1: emb, char3-5, rules": _blocks(words=None, rules=1.0),
    "emb, char3-5, words, rules": _blocks(words="words", rules=1.0),
    "emb, char3-5, words+end, rules": _blocks(words="words+end", rules=1.0),
    "emb, char3-5, words+open1+end, rules": _blocks(words="words+open1+end", rules=1.0),
    "emb, char3-5, words+open2, rules": _blocks(words="words+open2", rules=1.0),
    "emb, char3-5, words+open2+end, rules": _blocks(rules=1.0),
    "emb, char3-5, words+open2+end/2048, rules": _blocks(words="words+open2+end/2048", rules=1.0),
    "emb, char2-4, words+open2+end, rules": _blocks(char="char2-4", rules=1.0),
    "emb, char3-5/8192, words+open2+end, rules": _blocks(char="char3-5/8192", rules=1.0),
    "emb x0.5, char3-5, words+open2+end, rules": _blocks(embedding=0.5, rules=1.0),
    "emb x2, char3-5, words+open2+end, rules": _blocks(embedding=2.0, rules=1.0),
    "emb, char3-5, words+open2+end x0.5, rules": _blocks(word_weight=0.5, rules=1.0),
    "emb, char3-5, words+open2+end x2, rules": _blocks(word_weight=2.0, rules=1.0),
    "emb, char3-5, words+open2+end, rules x2": _blocks(rules=2.0),
    CHOSEN: _blocks(),
}


def block_matrices(
    texts: Sequence[str], embedder: Embedder, names: set[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every block a candidate needs, one row per text; and the strong-rule scores."""
    blocks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    overrides = []
    views = [scan_views(text) for text in texts]
    for view in views:
        hits = scan(view)
        overrides.append(combined_score(0.0, hits))
        clean = view.views["clean"][:MAX_LEXICAL_CHARS]
        for name in names & LEXICAL_BLOCKS.keys():
            blocks[name].append(LEXICAL_BLOCKS[name](clean))
        if "rules" in names:
            blocks["rules"].append(np.asarray(family_features(hits)))
    out = {name: np.vstack(rows) for name, rows in blocks.items() if rows}
    if "embedding" in names:
        out["embedding"] = np.asarray(embedder.embed([clean_text(t) for t in texts]))
    return out, np.asarray(overrides)


def compare(data: Path, embedder: Embedder) -> list[dict[str, object]]:
    texts, labels = read_rows(data)
    names = {block for blocks in CANDIDATES.values() for block, _ in blocks}
    matrices, overrides = block_matrices(texts, embedder, names)
    results = []
    for name, blocks in CANDIDATES.items():
        features = np.hstack([weight * matrices[block] for block, weight in blocks])
        grid = [{"C": c, **cross_validate(features, labels, overrides, c, None)} for c in C_GRID]
        best = max(grid, key=lambda row: (row["f1"], -float(row["C"])))  # type: ignore[arg-type]
        results.append({"candidate": name, "dim": features.shape[1], **best})
        sys.stderr.write(f"{name}: F1 {best['f1']} (C={best['C']})\n")
    return sorted(results, key=lambda row: -float(row["f1"]))  # type: ignore[arg-type]


def label(candidate: str) -> str:
    return f"**{candidate}** (features.py)" if candidate == CHOSEN else candidate


def markdown(results: list[dict[str, object]]) -> str:
    lines = [
        (
            "| candidate (train CV only) | dims | best C | CV F1 | precision | recall | FPR "
            "| F1 per repeat |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        repeats = r["f1_per_repeat"]
        assert isinstance(repeats, list)
        lines.append(
            f"| {label(str(r['candidate']))} | {r['dim']} | {r['C']} | {r['f1']:.4f} "
            f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['fpr']:.3f} "
            f"| {min(repeats):.3f}-{max(repeats):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"training data not found: {args.data}")
    from retrieval.embedding.torch_embedder import TorchEmbedder

    table = markdown(compare(args.data, TorchEmbedder()))
    args.out.write_text(table, encoding="utf-8")
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
