"""Export the packaged MiniLM weights to ONNX (fp32, and a dynamic-int8 variant).

Exported files live in a cache folder under a name that hashes the source weights
together with the export settings, so new weights or changed settings never reuse a
stale file. Each model file has a JSON manifest beside it holding the model file's
SHA-256: a file whose bytes no longer match is treated as missing and exported
again. Writes go to a temporary file followed by ``os.replace``, and a file lock
makes concurrent exporters (several workers warming up at once) export only once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from retrieval.errors import ModelUnavailable

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
FILE_STEM = "all-MiniLM-L6-v2"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"

# Every value here changes the exported bytes, so all of them feed the file name.
# Bump "format" whenever this module's export code changes in a way the other
# keys do not capture.
EXPORT_SETTINGS: dict[str, Any] = {
    "format": 1,
    # torch 2.13's default (dynamo) exporter needs the onnxscript package; the
    # TorchScript exporter (dynamo=False) needs nothing beyond torch and gives a
    # graph that matches PyTorch to cosine 1.0000.
    "exporter": "torchscript",
    "opset": 17,
    # Eager attention exports as plain MatMul/Softmax; SDPA adds IsNaN/Where guards
    # and measured no faster.
    "attn_implementation": "eager",
    "inputs": list(INPUT_NAMES),
    "output": OUTPUT_NAME,
    "dynamic_axes": ["batch", "sequence"],
}

# Dynamic int8 (MatMulInteger, per-channel signed weights) with the first two
# encoder layers kept in fp32. Minimum cosine to fp32 over 400 SciFact queries,
# 200 passages and 12 degenerate strings ("", "!!!", emoji), one text per run:
#   all layers int8        0.979 queries, 0.968 degenerate
#   layers 0-1 kept fp32   0.988 queries, 0.981 degenerate  <- this recipe
# Per-tensor weights (0.93) and reduce_range (0.74) were far worse, and SmoothQuant-
# style scaling or fp32 outlier channels did not lift the minimum. Activations are
# quantized with one scale per tensor, so 2-token inputs ([CLS] [SEP]) and padded
# batches suffer; int8 therefore misses the 0.99 parity bar and is opt-in only.
# Weight-only 8-bit MatMulNBits reached 0.998 but ran no faster than fp32 on this
# AVX2 CPU (no VNNI) and needs the extra onnx-ir package.
QUANT_SETTINGS: dict[str, Any] = {
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": False,
    "op_types": ["MatMul"],
    "fp32_layers": [0, 1],
}

LOCK_TIMEOUT_S = 900.0


class OnnxExportError(ModelUnavailable):
    """The ONNX model could not be exported or loaded."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    exported: bool  # False when a valid cached file was reused
    seconds: float


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def source_fingerprint(model_dir: Path) -> str:
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelUnavailable(f"the model weights {weights} are missing; cannot export to ONNX")
    return sha256_file(weights)


def model_file(model_dir: Path, cache_dir: Path, quantized: bool) -> Path:
    """Where the exported model for these weights and settings lives (it may not exist yet)."""
    key_material: dict[str, Any] = {
        "source_sha256": source_fingerprint(model_dir),
        "export": EXPORT_SETTINGS,
    }
    if quantized:
        key_material["quantization"] = QUANT_SETTINGS
    key = hashlib.sha256(json.dumps(key_material, sort_keys=True).encode()).hexdigest()[:16]
    suffix = ".int8.onnx" if quantized else ".onnx"
    return cache_dir / f"{FILE_STEM}.{key}{suffix}"


def manifest_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + ".json")


def is_valid(model_path: Path) -> bool:
    """True when the file exists and its bytes match the checksum written at export."""
    manifest = manifest_path(model_path)
    if not (model_path.is_file() and manifest.is_file()):
        return False
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(recorded == sha256_file(model_path))


def discard(model_path: Path) -> None:
    """Remove an exported file and its manifest (used when ONNX Runtime rejects it)."""
    for path in (manifest_path(model_path), model_path):
        path.unlink(missing_ok=True)


def ensure_exported(
    model_dir: Path, cache_dir: Path, *, quantized: bool = False, force: bool = False
) -> ExportResult:
    """Return a verified exported model file, exporting it first when needed.

    ``force`` discards an existing file first (the caller found it unloadable).
    Safe to call from several processes at once.
    """
    target = model_file(model_dir, cache_dir, quantized)
    if not force and is_valid(target):
        return ExportResult(target, exported=False, seconds=0.0)
    started = time.perf_counter()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(target):
            # Another process may have finished the export while we waited for the lock.
            if force:
                discard(target)
            elif is_valid(target):
                return ExportResult(target, exported=False, seconds=0.0)
            if quantized:
                source = ensure_exported(model_dir, cache_dir, quantized=False).path
                _write_atomically(target, lambda tmp: _quantize(source, tmp), model_dir, started)
            else:
                _write_atomically(
                    target, lambda tmp: _export_fp32(model_dir, tmp), model_dir, started
                )
    except OSError as exc:
        raise OnnxExportError(
            f"cannot write the ONNX model under {cache_dir}: {exc}; make the folder writable "
            "or export once where it is (the file is reused afterwards)"
        ) from exc
    seconds = time.perf_counter() - started
    log.info("exported %s in %.1f s", target.name, seconds)
    return ExportResult(target, exported=True, seconds=seconds)


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    lock = FileLock(str(target.with_name(target.name + ".lock")), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            yield
    except Timeout as exc:
        raise OnnxExportError(
            f"waited {LOCK_TIMEOUT_S:.0f} s for another process exporting {target.name}; "
            f"if none is running, delete {lock.lock_file}"
        ) from exc


def _write_atomically(
    target: Path, produce: Callable[[Path], None], model_dir: Path, started: float
) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.onnx")
    tmp_manifest = tmp.with_name(tmp.name + ".json")
    try:
        produce(tmp)
        manifest = {
            "sha256": sha256_file(tmp),
            "source_sha256": source_fingerprint(model_dir),
            "export": EXPORT_SETTINGS,
            "quantization": QUANT_SETTINGS if target.name.endswith(".int8.onnx") else None,
            "export_seconds": round(time.perf_counter() - started, 3),
        }
        tmp_manifest.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        # Model first, manifest second: a reader that sees the new model with an old
        # or absent manifest finds it invalid and waits on the lock, never trusts it.
        os.replace(tmp, target)
        os.replace(tmp_manifest, manifest_path(target))
    finally:
        tmp.unlink(missing_ok=True)
        tmp_manifest.unlink(missing_ok=True)


def _export_fp32(model_dir: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise OnnxExportError(
            "exporting the embedding model to ONNX needs torch and transformers; "
            f"install them or provide a pre-exported file ({exc})"
        ) from exc

    bert = AutoModel.from_pretrained(
        str(model_dir),
        local_files_only=True,
        attn_implementation=EXPORT_SETTINGS["attn_implementation"],
    ).eval()

    class _LastHiddenState(torch.nn.Module):
        # transformers 5 reorders BertModel.forward's positional parameters, so
        # tracing it directly mis-binds inputs; keyword arguments pin them.
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # Trace with a padded second row: an all-ones mask could let transformers skip
    # building the attention mask, and the trace would then ignore padding.
    input_ids = torch.tensor(
        [[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]]
    )
    attention_mask = (input_ids != 0).long()
    token_type_ids = torch.zeros_like(input_ids)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        # The legacy exporter warns that it is legacy, and the tracer warns about
        # shape checks that are constant for an encoder; neither needs a reader.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _LastHiddenState(bert),
            (input_ids, attention_mask, token_type_ids),
            str(out),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={name: axes for name in (*INPUT_NAMES, OUTPUT_NAME)},
            opset_version=EXPORT_SETTINGS["opset"],
            do_constant_folding=True,
            dynamo=False,
        )


def _quantize(source: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32_layers = tuple(QUANT_SETTINGS["fp32_layers"])
    keep = [
        node.name
        for node in onnx.load(str(source), load_external_data=False).graph.node
        if node.op_type in QUANT_SETTINGS["op_types"]
        and any(f"/encoder/layer.{i}/" in node.name for i in fp32_layers)
    ]
    if fp32_layers and not keep:
        # Node names come from the module tree; if a transformers release renames
        # it, fail loudly rather than quietly quantizing the sensitive layers.
        raise OnnxExportError(
            f"no nodes of encoder layers {fp32_layers} found in {source.name}; "
            "the exported graph's naming changed and the int8 recipe needs updating"
        )
    quantize_dynamic(
        model_input=str(source),
        model_output=str(out),
        op_types_to_quantize=list(QUANT_SETTINGS["op_types"]),
        per_channel=QUANT_SETTINGS["per_channel"],
        reduce_range=QUANT_SETTINGS["reduce_range"],
        weight_type=getattr(QuantType, QUANT_SETTINGS["weight_type"]),
        nodes_to_exclude=keep,
    )
