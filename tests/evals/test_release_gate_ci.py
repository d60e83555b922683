"""The release gate on the real pipeline: the production prompt, the extractive model,
the shipped defaults, the whole golden set. A change that lowers quality below the
floors in evals/thresholds.yaml, or significantly below the stored baseline, fails
here, and so fails CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app


@pytest.mark.slow
def test_golden_gate_passes_on_shipped_defaults(
    corpus_index_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "var"
    shutil.copytree(corpus_index_root, data / "index")
    monkeypatch.setenv("LADDER_DATA_DIR", str(data))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", "gate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "golden gate passed" in result.output
    assert (out / "report.html").is_file() and (out / "summary.json").is_file()
