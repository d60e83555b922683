"""Train the scope classifier on guardrails/data/scope_labelled.jsonl (our own labelled set).

    python -m guardrails.training.train_scope [--data ...] [--out guardrails/models/scope_lr.json]

The split is deterministic: a row is in ``dev`` when CRC-32 of its text is
0, 1 or 2 mod 10 (about 30%), else ``train``. C and the threshold are chosen
by 5-fold cross-validation on train only: the threshold is the one that
refuses the most off-topic questions while refusing at most 5% of on-topic
ones. The dev split is then scored once and its precision/recall are written
to the model file as the held-out figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from guardrails.normalize import clean_text
from guardrails.scope import default_spec, scope_features
from guardrails.training.common import (
    PROJECT_ROOT,
    SEED,
    binary_metrics,
    file_sha256,
    fit_logreg,
    out_of_fold_probabilities,
    pick_threshold,
    rounded,
    sigmoid,
    write_model_file,
)
from retrieval.embedding.base import Embedder

DEFAULT_DATA = PROJECT_ROOT / "guardrails" / "data" / "scope_labelled.jsonl"
DEFAULT_OUT = PROJECT_ROOT / "guardrails" / "models" / "scope_lr.json"
C_GRID = (0.3, 1.0, 3.0, 10.0)
MAX_FALSE_REFUSALS = 0.05


def split_of(text: str) -> str:
    return "dev" if zlib.crc32(text.encode("utf-8")) % 10 < 3 else "train"


def read_rows(path: Path) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON: {exc}") from exc
        if row.get("label") not in ("on_topic", "off_topic") or not row.get("text"):
            raise ValueError(f"{path}:{number}: needs text and label on_topic|off_topic")
        rows.append(row)
    return rows


def train(data: Path, embedder: Embedder) -> dict[str, object]:
    rows = read_rows(data)
    texts = [clean_text(row["text"]) for row in rows]
    embeddings = embedder.embed(texts)
    features = np.vstack([scope_features(e, t) for e, t in zip(embeddings, texts, strict=True)])
    on_topic = np.asarray([row["label"] == "on_topic" for row in rows], dtype=np.int64)
    is_train = np.asarray([split_of(row["text"]) == "train" for row in rows])
    x_train, y_train = features[is_train], on_topic[is_train]

    grid = []
    for c in C_GRID:
        probabilities = out_of_fold_probabilities(x_train, y_train, c, None)
        # Positive class for tuning = "refuse": score 1 - p(on topic); false
        # positives are on-topic questions we would refuse.
        refuse_threshold = pick_threshold(1 - y_train, 1 - probabilities, MAX_FALSE_REFUSALS)
        metrics = binary_metrics(1 - y_train, (1 - probabilities) >= refuse_threshold)
        grid.append({"C": c, "min_on_topic_probability": round(1 - refuse_threshold, 6), **metrics})
    best = max(grid, key=lambda row: (row["f1"], -float(row["C"])))
    weights, bias = fit_logreg(x_train, y_train, float(best["C"]), None)
    threshold = float(best["min_on_topic_probability"])

    dev_probabilities = sigmoid(features[~is_train] @ weights + bias)
    dev_labels = on_topic[~is_train]
    refused = dev_probabilities < threshold
    kinds = [
        row.get("kind", "") for row, train_row in zip(rows, is_train, strict=True) if not train_row
    ]
    borderline = [k == "borderline" for k in kinds]
    return {
        "name": "scope",
        "weights": rounded(weights),
        "bias": round(bias, 8),
        "threshold": threshold,
        "feature_spec": default_spec(embedder.name),
        "training": {
            "data": "guardrails/data/scope_labelled.jsonl",
            "data_sha256": file_sha256(data),
            "rows": len(rows),
            "train_rows": int(is_train.sum()),
            "dev_rows": int((~is_train).sum()),
            "split": "dev when crc32(text) % 10 < 3",
            "seed": SEED,
            "C": best["C"],
            "max_false_refusals": MAX_FALSE_REFUSALS,
            "command": "python -m guardrails.training.train_scope",
        },
        "metrics": {
            "cross_validation_train": best,
            "dev_off_topic": binary_metrics(1 - dev_labels, refused),
            "dev_on_topic": binary_metrics(dev_labels, ~refused),
            "dev_borderline_refused": int(np.sum(refused & np.asarray(borderline))),
            "dev_borderline_total": int(sum(borderline)),
            "grid": grid,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"scope data not found: {args.data}")
    from retrieval.embedding.torch_embedder import TorchEmbedder

    payload = train(args.data, TorchEmbedder())
    write_model_file(args.out, payload)
    metrics = payload["metrics"]  # type: ignore[index]
    sys.stdout.write(
        f"wrote {args.out}: dev off-topic {metrics['dev_off_topic']}, "  # type: ignore[index]
        f"dev on-topic {metrics['dev_on_topic']}\n"  # type: ignore[index]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
