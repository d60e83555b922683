"""Guardrails benchmark: injection, PII and scope quality on public/own data; input-guard latency.

    python -m bench.bench_guardrails [--out bench/results/guardrails.md] [--repeat 5]
    python -m bench.bench_guardrails --only injection   # rewrite just that section (~1 min)
    python -m bench.bench_guardrails --only latency     # input-guard latency section only

Data: ../shared/datasets/prompt-injections/test.csv (never used in training),
../shared/datasets/pii/synth_dataset_v2.json, guardrails/data/scope_labelled.jsonl,
corpus/*.md (benign text for PII false positives).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from guardrails.injection.detector import InjectionDetector
from guardrails.injection.rules import RULE_OVERRIDE
from guardrails.normalize import clean_text
from guardrails.pii.detector import detect_pii
from guardrails.pipeline import GuardPipeline
from guardrails.policy import load_policies
from guardrails.scope import ScopeClassifier
from guardrails.testing import StaticLimits
from guardrails.training.common import binary_metrics

DATASETS = ROOT.parent / "shared" / "datasets"
PII_LABELS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "PERSON": "PERSON",
}
GERMAN_HINTS = (" der ", " die ", " und ", " ist ", " sie ", " ich ", " nicht ", " wie ", " was ")


def load_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], np.asarray([int(r["label"]) for r in rows])


def row(name: str, m: dict[str, float]) -> str:
    return (
        f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['fpr']:.3f} "
        f"| {m['tp']}/{m['fp']}/{m['fn']}/{m['tn']} |"
    )


FEATURE_CV_TABLE = ROOT / "guardrails" / "training" / "injection_feature_cv.md"


def feature_selection_lines() -> list[str]:
    """The candidate comparison (train CV only) that chose features version 2."""
    if not FEATURE_CV_TABLE.is_file():
        return [f"(feature comparison table missing: {FEATURE_CV_TABLE.relative_to(ROOT)})", ""]
    return [
        (
            "Feature sets compared by the same CV on train.csv only "
            "(`python -m guardrails.training.compare_injection_features`, C grid 1-100, no "
            "class weights; best first). The top row is what features.py computes:"
        ),
        "",
        *FEATURE_CV_TABLE.read_text(encoding="utf-8").strip().splitlines(),
        "",
        (
            "Ruled out before that table, also by train CV only (a scratch harness: the same "
            "5 fold splits, F1 averaged over the splits with a threshold per split, so a little "
            "lower than pooled; v1 features scored 0.936 there): word unigrams 0.940; word "
            "uni+bigrams 0.937; word buckets 2048 / 8192 0.941 / 0.940; char 2-4 / 3-6-grams "
            "with word unigrams 0.942 / 0.940; block weights embedding x0.25 / x0.5 / x2 / x3 "
            "0.914 / 0.926 / 0.928 / 0.914, no embedding 0.908; a logit-average ensemble of "
            "LR(embedding, rules) and LR(char, words, rules) 0.934 (its halves alone 0.891 and "
            "0.908); sentence shape as a separate block 0.945 instead of inside the word block "
            "0.953; clause (comma) splits 0.954 vs sentence splits 0.954. class_weight="
            "balanced never moved F1 by more than 0.001."
        ),
        "",
    ]


def injection_section(embedder, pipeline: GuardPipeline) -> list[str]:  # type: ignore[no-untyped-def]
    texts, labels = load_csv(DATASETS / "prompt-injections" / "test.csv")
    embeddings = embedder.embed([clean_text(t) for t in texts])
    detector = InjectionDetector()
    threshold = detector.threshold
    injection_guard = next(g for g in pipeline.input_guards if g.name == "injection")
    relief_min = pipeline.policies.resolve("employee").input.injection.on_topic_relief_min
    relief_threshold = pipeline.policies.resolve("employee").input.injection.on_topic_threshold
    combined, probability, rules_only, deployed = [], [], [], []
    for text, embedding in zip(texts, embeddings, strict=True):
        score = detector.score(text, embedding)
        combined.append(score.score)
        probability.append(score.probability)
        strong = [h.weight for h in score.hits if h.weight >= RULE_OVERRIDE]
        rules_only.append(max(strong, default=0.0))
        on_topic = injection_guard.scope.score(clean_text(text), embedding).on_topic_probability
        limit = (
            relief_threshold
            if (not strong and relief_min is not None and on_topic >= relief_min)
            else threshold
        )
        deployed.append(score.score >= max(limit, threshold))
    combined_a, probability_a = np.asarray(combined), np.asarray(probability)
    german = np.asarray([any(h in f" {t.lower()} " for h in GERMAN_HINTS) for t in texts])
    model = detector.model
    cv = model.metrics["cross_validation"]
    repeats = model.training.get("cv_repeats", 1)
    lines = [
        "## Prompt injection (deepset/prompt-injections)",
        "",
        (
            f"Trained on train.csv only ({model.training['rows']} rows); features version "
            f"{model.feature_spec.get('version', 1)} (MiniLM embedding, char 3-5-grams, words with "
            f"sentence shape; strong rules override). C={cv['C']}, class_weight={cv['class_weight']} and "
            f"the threshold {threshold:.4f} were chosen by {repeats} x 5-fold CV on train (best F1 "
            f"of the pooled out-of-fold scores with FPR <= 5%). "
            f"Test: {len(texts)} rows ({int(labels.sum())} injections, {int((1 - labels).sum())} benign)."
        ),
        "",
        "| scorer | precision | recall | F1 | FPR (benign) | TP/FP/FN/TN |",
        "|---|---|---|---|---|---|",
        row(f"cross-validation on train, {repeats} repeats pooled (combined score)", cv),
        row(
            "**test: combined score (classifier + strong rules)**",
            binary_metrics(labels, combined_a >= threshold),
        ),
        row("test: classifier only", binary_metrics(labels, probability_a >= threshold)),
        row(
            f"test: strong rules only (weight >= {RULE_OVERRIDE})",
            binary_metrics(labels, np.asarray(rules_only) > 0),
        ),
        row(
            "test: guard as deployed (employee policy, on-topic relief)",
            binary_metrics(labels, np.asarray(deployed)),
        ),
        row(
            f"test: German rows only ({int(german.sum())})",
            binary_metrics(labels[german], combined_a[german] >= threshold),
        ),
        row(
            f"test: other rows ({int((~german).sum())})",
            binary_metrics(labels[~german], combined_a[~german] >= threshold),
        ),
    ]
    lines += ["", *feature_selection_lines()]
    lines += [
        (
            "How test was used: this split was scored once, for the configuration that train "
            "CV chose (table above), after the choice was made and the model file written; no "
            "candidate was scored on it, and its texts were not read while choosing. Version 1 "
            "(embedding, char n-grams, rule families; single 5-fold CV) scored F1 0.881 "
            "(FPR 0.018) here. Earlier history: the test file was read once while studying the "
            "data set; the rules written after that were removed on 2026-11-25, but the rule "
            "table in patterns.py was written by people who had seen the data, so the "
            "strong-rule override is the one part whose independence from test cannot be proven "
            "(version 2 no longer feeds rule features to the classifier)."
        ),
        "",
    ]
    # In-domain false positives: our own career questions (never used for injection training).
    scope_rows = [
        json.loads(l)
        for l in (ROOT / "guardrails/data/scope_labelled.jsonl").read_text().splitlines()
        if l.strip()
    ]
    flagged: dict[str, list[int]] = {}  # label -> [rows, flagged raw, flagged by the guard]
    texts_in = [r["text"] for r in scope_rows]
    for item, embedding in zip(
        scope_rows, embedder.embed([clean_text(t) for t in texts_in]), strict=True
    ):
        score = detector.score(item["text"], embedding)
        strong = any(h.weight >= RULE_OVERRIDE for h in score.hits)
        p_on = injection_guard.scope.score(clean_text(item["text"]), embedding).on_topic_probability
        limit = (
            relief_threshold
            if (not strong and relief_min is not None and p_on >= relief_min)
            else threshold
        )
        counts = flagged.setdefault(item["label"], [0, 0, 0])
        counts[0] += 1
        counts[1] += score.score >= threshold
        counts[2] += score.score >= max(limit, threshold)
    on, off = flagged["on_topic"], flagged["off_topic"]
    lines += [
        (
            f"In-domain false positives on our {on[0]} on-topic career questions "
            f"(guardrails/data/scope_labelled.jsonl): detector at the CV threshold flags "
            f"{on[1]} ({on[1] / on[0]:.1%}); the deployed guard (on-topic relief: threshold "
            f"{relief_threshold} when p(on-topic) >= {relief_min} and no strong rule) flags "
            f"{on[2]} ({on[2] / on[0]:.1%}). Of the {off[0]} off-topic requests in the same file, "
            f"the guard blocks {off[2]} ({off[2] / off[0]:.1%}) as injections: task requests "
            '("Write a poem about the ocean.") are injections by the deepset definition. The '
            "employee and manager policies refuse them as off-topic anyway, but the user then "
            "reads the injection message, since the injection guard runs first."
        ),
        "",
    ]
    return lines


def pii_section() -> list[str]:
    data = json.loads((DATASETS / "pii" / "synth_dataset_v2.json").read_text(encoding="utf-8"))
    gold, hit, exact, predicted, correct = Counter(), Counter(), Counter(), Counter(), Counter()
    started = time.perf_counter()
    for record in data:
        text = record["full_text"]
        spans = detect_pii(text)
        golds = [
            (PII_LABELS.get(s["entity_type"]), s["start_position"], s["end_position"])
            for s in record["spans"]
        ]
        for kind, start, end in golds:
            if kind is None:
                continue
            gold[kind] += 1
            matches = [p for p in spans if p.type == kind and p.start < end and start < p.end]
            hit[kind] += bool(matches)
            exact[kind] += any(p.start == start and p.end == end for p in matches)
        for p in spans:
            predicted[p.type] += 1
            correct[p.type] += any(k == p.type and p.start < e and s < p.end for k, s, e in golds)
    per_text_ms = (time.perf_counter() - started) * 1000 / len(data)
    lines = [
        "## PII (presidio-research synth_dataset_v2.json, 1,500 sentences)",
        "",
        (
            "A gold span counts as found when a detection of the same type overlaps it; "
            "a detection is correct when it overlaps a gold span of its type (detections over "
            "addresses, ZIP codes or organisations count as false positives). Exact = same "
            "start and end. Dataset labels mapped: EMAIL_ADDRESS→EMAIL, PHONE_NUMBER→PHONE, "
            "IBAN_CODE→IBAN, US_SSN→SSN."
        ),
        "",
        "| entity | gold | recall | exact-boundary recall | detections | precision |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IP_ADDRESS", "PERSON"):
        recall = hit[kind] / gold[kind] if gold[kind] else 0.0
        precision = correct[kind] / predicted[kind] if predicted[kind] else 0.0
        lines.append(
            f"| {kind} | {gold[kind]} | {recall:.3f} | {exact[kind] / max(gold[kind], 1):.3f} "
            f"| {predicted[kind]} | {precision:.3f} |"
        )
    corpus_hits = Counter()
    corpus_chars = 0
    for path in sorted((ROOT / "corpus").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        corpus_chars += len(text)
        corpus_hits.update(span.type for span in detect_pii(text))
    lines += [
        "",
        (
            "PERSON is heuristic (name cues, titles, a hand-written list of ~850 common given "
            "names; rare names seen while inspecting the data set were deliberately left out): "
            "surname-only mentions and uncommon given names are missed. No recall target was set "
            "for it; an NER model would be needed for more."
        ),
        "",
        (
            f"Detection cost: {per_text_ms:.2f} ms per sentence (mean). False positives on benign "
            f"role text (corpus/*.md, {corpus_chars:,} characters of KPIs, targets and titles): "
            f"{dict(corpus_hits) or 'none'}."
        ),
        "",
    ]
    return lines


def scope_section(embedder) -> list[str]:  # type: ignore[no-untyped-def]
    classifier = ScopeClassifier()
    metrics = classifier.model.metrics
    benign: list[str] = []
    for split in ("train", "test"):
        texts, labels = load_csv(DATASETS / "prompt-injections" / f"{split}.csv")
        benign += [t for t, y in zip(texts, labels, strict=True) if y == 0]
    vectors = embedder.embed([clean_text(t) for t in benign])
    refused = sum(
        classifier.score(clean_text(t), v).on_topic_probability < classifier.threshold
        for t, v in zip(benign, vectors, strict=True)
    )
    dev_off, dev_on = metrics["dev_off_topic"], metrics["dev_on_topic"]
    cv = metrics["cross_validation_train"]
    return [
        "## Scope (own labelled set, guardrails/data/scope_labelled.jsonl)",
        "",
        (
            f"{classifier.model.training['rows']} hand-written questions (178 on-topic incl. 43 borderline "
            f"career questions, 160 off-topic); deterministic split {classifier.model.training['split']} "
            f"-> {classifier.model.training['train_rows']} train / {classifier.model.training['dev_rows']} dev. "
            f"C and the threshold (min on-topic probability {classifier.threshold:.4f}) were chosen by "
            f"5-fold CV on train (most off-topic refusals with <= 5% on-topic refused); dev was scored once."
        ),
        "",
        "| split | off-topic precision | off-topic recall | on-topic recall (not refused) |",
        "|---|---|---|---|",
        f"| CV on train | {cv['precision']:.3f} | {cv['recall']:.3f} | {1 - cv['fpr']:.3f} |",
        f"| dev (held out) | {dev_off['precision']:.3f} | {dev_off['recall']:.3f} | {dev_on['recall']:.3f} |",
        "",
        (
            f"Borderline career questions refused on dev: {metrics['dev_borderline_refused']}/"
            f"{metrics['dev_borderline_total']}. External check: of the {len(benign)} benign deepset "
            f"prompts (news/politics/everyday questions, all outside ladder's scope), "
            f"{refused} ({refused / len(benign):.1%}) are refused as off-topic."
        ),
        "",
    ]


FABRICATED = (
    "This role also approves every salary increase in the company",
    "Engineers in this role are expected to work from the Lisbon office four days a week",
    "The role owns the corporate marketing budget and press relations",
)


def grounding_section(embedder, pipeline: GuardPipeline) -> list[str]:  # type: ignore[no-untyped-def]
    """Answers from the embedded extractive provider over the real corpus: how many honest
    sentences does grounding remove, and how many planted ones does it catch?"""
    try:
        from gateway.providers.base import Passage
        from gateway.providers.extractive import ABSTAIN_TEXT, ExtractiveProvider
        from retrieval.chunking import chunk_blueprints
        from retrieval.ingest import load_paths
    except ImportError as exc:
        return ["## Grounding", "", f"Skipped: {exc}", ""]
    chunks = chunk_blueprints(load_paths([ROOT / "corpus"]).blueprints)
    vectors = embedder.embed([c.indexed_text for c in chunks])
    provider = ExtractiveProvider()
    rows = [
        json.loads(l)
        for l in (ROOT / "guardrails/data/scope_labelled.jsonl").read_text().splitlines()
        if l.strip()
    ]
    honest = removed = refused = answers = planted = caught = numbers = numbers_caught = 0
    for question in [r["text"] for r in rows if r["label"] == "on_topic"]:
        inputs = pipeline.check_input([{"role": "user", "content": question}])
        if inputs.stopped:
            continue
        top = np.argsort(-(vectors @ inputs.query_embedding))[:8]
        passages = [
            Passage(
                marker=i + 1,
                chunk_id=chunks[j].id,
                title=chunks[j].doc_title,
                section_path=chunks[j].path_text,
                text=chunks[j].text,
                score=float(vectors[j] @ inputs.query_embedding),
                kind=chunks[j].kind,
                cells=chunks[j].metadata.get("cells"),
            )
            for i, j in enumerate(top)
        ]
        text, abstained = provider.compose(question, passages)
        if abstained:
            continue
        sources = [
            {"id": p.chunk_id, "text": p.text, "marker": p.marker, "embedding": vectors[j]}
            for p, j in zip(passages, top, strict=True)
        ]
        outcome = pipeline.check_output(text, sources, inputs, abstain_text=ABSTAIN_TEXT)
        answers += 1
        claims = next(v for v in outcome.verdicts if v.guard == "grounding").reasons[0]
        honest += int(claims.split("=")[1])
        removed += len(outcome.removed_sentences)
        refused += outcome.refused
        fake = f"{text} {FABRICATED[answers % len(FABRICATED)]} [1]."
        planted += 1
        tampered = pipeline.check_output(fake, sources, inputs, abstain_text=ABSTAIN_TEXT)
        caught += tampered.refused or any(
            FABRICATED[answers % len(FABRICATED)] in r for r in tampered.removed_sentences
        )
        # A figure in the prose, not a citation marker: "[2]" must stay as it is.
        digits = re.search(r"(?<![\[\d,;])\b(\d+)\b(?![\]\d,;])", text)
        if digits:
            numbers += 1
            changed = text[: digits.start()] + str(int(digits.group(1)) + 7) + text[digits.end() :]
            result = pipeline.check_output(changed, sources, inputs, abstain_text=ABSTAIN_TEXT)
            numbers_caught += result.refused or bool(result.removed_sentences)
    return [
        "## Grounding (answers of the embedded extractive provider over corpus/)",
        "",
        (
            "For each on-topic question of our scope set: top-8 chunks by MiniLM cosine, the "
            "extractive provider's answer, then `check_output` (employee policy, threshold 0.5)."
        ),
        "",
        (
            f"- honest answers: {answers} ({honest} claim sentences); sentences removed: {removed}; "
            f"answers refused: {refused}"
        ),
        f"- planted unsupported sentence (cited [1]) caught: {caught}/{planted}",
        f"- one figure in the answer text changed (+7), caught: {numbers_caught}/{numbers}",
        "",
    ]


def latency_section(embedder, pipeline: GuardPipeline, repeat: int) -> list[str]:  # type: ignore[no-untyped-def]
    texts, _ = load_csv(DATASETS / "prompt-injections" / "test.csv")
    scope_rows = [
        json.loads(l)
        for l in (ROOT / "guardrails/data/scope_labelled.jsonl").read_text().splitlines()
        if l.strip()
    ]
    pii_examples = [
        "I'm Jane Doe (jane.doe@example.com, +44 20 7946 0958). What are the KPIs for an MLOps engineer?",
        "My manager Dr. Okafor asked for my 90-day goals; my IBAN is DE89 3704 0044 0532 0130 00.",
    ]
    requests = [
        [{"role": "user", "content": t}]
        for t in texts + [r["text"] for r in scope_rows] + pii_examples
    ]
    requests.append(
        [
            {"role": "user", "content": "What are the KPIs for a staff applied AI engineer?"},
            {
                "role": "assistant",
                "content": "Deployment frequency and model quality targets [1]. " * 6,
            },
            {"role": "user", "content": "And which of them matter in the first 90 days?"},
        ]
    )
    queries = [pipeline.retrieval_query(r) for r in requests]
    vectors = embedder.embed(queries)
    for r, v in zip(requests[:5], vectors[:5], strict=True):  # warm caches
        pipeline.check_input(r, query_embedding=v)
    totals: list[float] = []
    per_guard: dict[str, list[float]] = {}
    for _ in range(repeat):
        for r, v in zip(requests, vectors, strict=True):
            started = time.perf_counter()
            outcome = pipeline.check_input(r, query_embedding=v)
            totals.append((time.perf_counter() - started) * 1000)
            for verdict in outcome.verdicts:
                per_guard.setdefault(verdict.guard, []).append(verdict.latency_ms)

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(np.asarray(values), q))

    lines = [
        "## Latency of all input guards together (query embedding provided)",
        "",
        (
            f"{len(requests)} requests (deepset test prompts, our scope questions, PII-bearing and "
            f"multi-turn examples) x {repeat} rounds = {len(totals)} calls of "
            "`GuardPipeline.check_input(..., query_embedding=...)`, employee policy, one process."
        ),
        "",
        "| | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
        f"| **all input guards** | {pct(totals, 50):.2f} | **{pct(totals, 95):.2f}** | {pct(totals, 99):.2f} | {max(totals):.2f} |",
    ]
    for name, values in per_guard.items():
        lines.append(
            f"| {name} | {pct(values, 50):.2f} | {pct(values, 95):.2f} | {pct(values, 99):.2f} | {max(values):.2f} |"
        )
    single = []
    for query in queries[:30]:
        started = time.perf_counter()
        embedder.embed([query])
        single.append((time.perf_counter() - started) * 1000)
    lines += [
        "",
        (
            f"For scale: the shared query embedding itself (TorchEmbedder, one query) took "
            f"p50 {statistics.median(single):.1f} ms here; the gateway computes it once for guards "
            "and retrieval."
        ),
        "",
    ]
    return lines


def replace_section(document: str, section: list[str]) -> str:
    """``document`` with the "## " section that ``section`` starts with replaced by it."""
    lines = document.splitlines()
    heading = section[0]
    if heading not in lines:
        raise SystemExit(f"{heading!r} not found; run the full benchmark first")
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join([*lines[:start], *section, *lines[end:]]) + "\n"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".guardrails-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "guardrails.md")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=["injection", "latency"],
        help="compute one section and replace it in --out, keeping the other sections",
    )
    args = parser.parse_args(argv)
    from retrieval.embedding.torch_embedder import TorchEmbedder

    embedder = TorchEmbedder()
    embedder.warm_up()
    pipeline = GuardPipeline(
        load_policies(ROOT / "guardrails" / "policies"), embedder, StaticLimits()
    )
    pipeline.warm_up()
    started = time.time()
    if args.only is not None:
        if args.only == "injection":
            section = injection_section(embedder, pipeline)
        else:
            section = latency_section(embedder, pipeline, args.repeat)
        write_atomically(args.out, replace_section(args.out.read_text(encoding="utf-8"), section))
        sys.stdout.write("\n".join(section) + "\n")
        return 0
    body = [
        "# Guardrails benchmark",
        "",
        "Command: `python -m bench.bench_guardrails` (from the repository root, venv active).",
        (
            f"Machine: 2-core {platform.machine()} CPU, no GPU, Python {platform.python_version()}; "
            f"load average at start {os.getloadavg()[0]:.1f} (other work shared the 2 cores)."
        ),
        "",
    ]
    body += injection_section(embedder, pipeline)
    body += pii_section()
    body += scope_section(embedder)
    body += grounding_section(embedder, pipeline)
    body += latency_section(embedder, pipeline, args.repeat)
    body.append(f"Benchmark wall time: {time.time() - started:.0f} s.")
    write_atomically(args.out, "\n".join(body) + "\n")
    sys.stdout.write("\n".join(body) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
