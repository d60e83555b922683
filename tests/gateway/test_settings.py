"""gateway/settings.py: where values come from, and how a bad one is reported.

Every failure must name the variable an operator has to fix, never echo a secret,
and reach the command line as a message (exit 2), not a traceback.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gateway.errors import SettingsError
from gateway.settings import load_settings

PROJECT = Path(__file__).resolve().parents[2]
LADDER = PROJECT / ".venv" / "bin" / "ladder"
SECRET = "sk-test-9f3b7c1e5a2d4b6c8e0f"


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings read ./ladder.toml and ./.env: a developer's own files must not count."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    return str(info.value)


# --- bad values: the message names the variable and the value -------------------------------

def test_non_integer_port_names_the_variable_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_PORT="abc")
    assert "LADDER_PORT" in message
    assert "'abc'" in message
    assert "integer" in message


def test_out_of_range_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_PORT="70000")
    assert "LADDER_PORT" in message and "65535" in message


def test_nested_value_names_the_nested_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # retrieval.top_k is declared with ge=1 in retrieval/config.py.
    message = _error(monkeypatch, LADDER_RETRIEVAL__TOP_K="-1")
    assert "LADDER_RETRIEVAL__TOP_K" in message
    assert "'-1'" in message
    assert "greater than or equal to 1" in message


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_PORT="abc", LADDER_CACHE__TTL_S="0", LADDER_TELEMETRY__EXPORTER="zipkin")
    for name in ("LADDER_PORT", "LADDER_CACHE__TTL_S", "LADDER_TELEMETRY__EXPORTER"):
        assert name in message, message
    assert "'zipkin'" in message


def test_list_setting_that_is_not_json_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A list given in one variable must be JSON; a bare path is the natural mistake.
    message = _error(monkeypatch, LADDER_CORPUS_PATHS="corpus")
    assert "LADDER_CORPUS_PATHS" in message
    assert "JSON" in message


def test_unsafe_combination_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_AUTH__DEV_MODE="true", LADDER_HOST="0.0.0.0")
    assert "dev_mode" in message and "loopback" in message


def test_valid_environment_values_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADDER_PORT", "9123")
    monkeypatch.setenv("LADDER_RETRIEVAL__TOP_K", "9")
    monkeypatch.setenv("LADDER_PROMPTS__CANARY_SHARE", "0.25")
    monkeypatch.setenv("LADDER_CORPUS_PATHS", '["a", "b"]')
    settings = load_settings()
    assert settings.port == 9123
    assert settings.retrieval.top_k == 9
    assert settings.prompts.canary_share == 0.25
    assert settings.corpus_paths == [Path("a"), Path("b")]


# --- unknown variables ------------------------------------------------------------------------

def test_unknown_top_level_variable_is_rejected_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_PROT="8001")
    assert "LADDER_PROT" in message and "not a ladder setting" in message


def test_unknown_nested_variable_is_rejected_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_RETRIEVAL__TOPK="3")
    assert "LADDER_RETRIEVAL__TOPK" in message


def test_client_side_variables_are_not_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    # LADDER_API_KEY is read by clients, LADDER_CONFIG names the TOML file: neither is a typo.
    config = Path("empty.toml")
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("LADDER_API_KEY", SECRET)
    monkeypatch.setenv("LADDER_CONFIG", str(config))
    assert load_settings().port == 8000


# --- the TOML file ----------------------------------------------------------------------------

def test_ladder_config_pointing_at_a_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ladder.toml"
    message = _error(monkeypatch, LADDER_CONFIG=str(missing))
    assert "LADDER_CONFIG" in message and str(missing) in message


def test_ladder_config_pointing_at_a_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    message = _error(monkeypatch, LADDER_CONFIG=str(tmp_path))
    assert "LADDER_CONFIG" in message and "not a file" in message


def test_values_are_read_from_ladder_toml_in_the_working_directory() -> None:
    Path("ladder.toml").write_text(
        'port = 9300\nhost = "localhost"\n\n[retrieval]\ntop_k = 7\nfusion = "rrf"\n\n'
        '[prompts]\ncanary_share = 0.1\n',
        encoding="utf-8",
    )
    settings = load_settings()
    assert (settings.port, settings.host) == (9300, "localhost")
    assert (settings.retrieval.top_k, settings.retrieval.fusion) == (7, "rrf")
    assert settings.prompts.canary_share == 0.1


def test_values_are_read_from_the_file_ladder_config_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    Path("ladder.toml").write_text("port = 9301\n", encoding="utf-8")  # must be ignored
    chosen = tmp_path / "conf" / "prod.toml"
    chosen.parent.mkdir()
    chosen.write_text("port = 9302\n[cache]\nenabled = false\n", encoding="utf-8")
    monkeypatch.setenv("LADDER_CONFIG", str(chosen))
    settings = load_settings()
    assert settings.port == 9302
    assert settings.cache.enabled is False


def test_environment_overrides_the_toml_file(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("ladder.toml").write_text("port = 9400\n[retrieval]\ntop_k = 7\nalpha = 0.9\n", encoding="utf-8")
    monkeypatch.setenv("LADDER_PORT", "9401")
    monkeypatch.setenv("LADDER_RETRIEVAL__ALPHA", "0.3")
    settings = load_settings()
    assert settings.port == 9401
    assert settings.retrieval.alpha == 0.3
    # The group is merged, not replaced: the TOML's other retrieval value survives.
    assert settings.retrieval.top_k == 7


def test_arguments_override_environment_and_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("ladder.toml").write_text("port = 9500\n", encoding="utf-8")
    monkeypatch.setenv("LADDER_PORT", "9501")
    assert load_settings(port=9502).port == 9502


def test_bad_value_in_toml_names_the_setting() -> None:
    Path("ladder.toml").write_text("[retrieval]\ntop_k = 0\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "LADDER_RETRIEVAL__TOP_K" in str(info.value)


def test_unknown_key_in_toml_is_rejected() -> None:
    Path("ladder.toml").write_text("[cache]\nenable = false\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "LADDER_CACHE__ENABLE" in str(info.value)


def test_toml_that_does_not_parse_is_a_settings_error() -> None:
    Path("ladder.toml").write_text("port = \n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "ladder.toml" in str(info.value) and "TOML" in str(info.value)


# --- secrets ----------------------------------------------------------------------------------

def test_secret_is_not_in_the_repr_or_str_of_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADDER_PROVIDERS__OPENAI_API_KEY", SECRET)
    settings = load_settings()
    assert settings.providers.openai_api_key is not None
    assert settings.providers.openai_api_key.get_secret_value() == SECRET  # it was read
    for text in (repr(settings), str(settings), repr(settings.providers), settings.model_dump_json()):
        assert SECRET not in text


def test_secret_is_not_in_the_error_when_another_value_is_bad(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_PROVIDERS__OPENAI_API_KEY=SECRET, LADDER_PORT="abc")
    assert "LADDER_PORT" in message
    assert SECRET not in message


def test_secret_of_the_wrong_type_is_not_echoed() -> None:
    Path("ladder.toml").write_text("[providers]\nopenai_api_key = 918273645546372819\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "LADDER_PROVIDERS__OPENAI_API_KEY" in message
    assert "918273645546372819" not in message


def test_secret_under_a_misspelt_key_is_not_echoed() -> None:
    # An unknown key is reported by name; its value may well be the secret it was meant for.
    Path("ladder.toml").write_text(f'[providers]\nopenai_api_kye = "{SECRET}"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "LADDER_PROVIDERS__OPENAI_API_KYE" in message
    assert SECRET not in message


def test_secret_in_a_group_given_as_json_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(
        monkeypatch, LADDER_PROVIDERS=f'{{"openai_api_key": "{SECRET}", "request_timeout_s": -1}}'
    )
    assert "LADDER_PROVIDERS__REQUEST_TIMEOUT_S" in message
    assert SECRET not in message


def test_secret_in_a_group_that_is_not_json_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, LADDER_PROVIDERS=f"openai_api_key={SECRET}")
    assert "LADDER_PROVIDERS" in message
    assert SECRET not in message


# --- the command line -------------------------------------------------------------------------

def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LADDER_")}
    clean.update(env)
    clean["COLUMNS"] = "400"  # one message line per setting, however long
    return subprocess.run(
        [str(LADDER), "serve", *args],
        cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture(scope="module")
def ladder_cli() -> Path:
    if not LADDER.is_file():
        pytest.fail(f"the ladder console script is missing: {LADDER} (pip install -e . into .venv)")
    return LADDER


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LADDER_PORT": "abc"}, ["LADDER_PORT", "'abc'"]),
        ({"LADDER_RETRIEVAL__TOP_K": "-1"}, ["LADDER_RETRIEVAL__TOP_K", "'-1'"]),
        ({"LADDER_PORTT": "8001"}, ["LADDER_PORTT", "not a ladder setting"]),
        ({"LADDER_CORPUS_PATHS": "corpus"}, ["LADDER_CORPUS_PATHS", "JSON"]),
        ({"LADDER_CONFIG": "/nonexistent/ladder.toml"}, ["LADDER_CONFIG", "/nonexistent/ladder.toml"]),
    ],
    ids=["port", "nested", "unknown", "not-json", "missing-config"],
)
def test_serve_with_a_bad_setting_exits_with_the_message(
    ladder_cli: Path, tmp_path: Path, env: dict[str, str], expected: list[str]
) -> None:
    result = _serve(tmp_path, **env, LADDER_PROVIDERS__OPENAI_API_KEY=SECRET)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    for text in expected:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert SECRET not in result.stderr + result.stdout
    assert "listening" not in result.stdout  # it never got as far as starting


def test_serve_with_a_bad_option_exits_with_the_message(ladder_cli: Path, tmp_path: Path) -> None:
    result = _serve(tmp_path, "--port", "70000")
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "65535" in result.stderr and "PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_bad_toml_in_the_working_directory_exits_cleanly(ladder_cli: Path, tmp_path: Path) -> None:
    (tmp_path / "ladder.toml").write_text("[auth]\ndev_mode = true\n", encoding="utf-8")
    result = _serve(tmp_path, "--host", "0.0.0.0")
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "dev_mode" in result.stderr and "loopback" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_before_any_ingest_says_so_in_one_line(ladder_cli: Path, tmp_path: Path) -> None:
    # The first-run slip: it printed "ladder listening on ..." and then the lifespan's traceback.
    result = _serve(tmp_path, "--dev", "--port", "0", LADDER_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    assert "no index under" in result.stderr and "ladder ingest" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stdout



@pytest.mark.parametrize(
    ("workers", "cores", "configured", "expected"),
    [
        (1, 2, None, None),  # one worker: the embedder's own default (up to 2 threads)
        (2, 2, None, 1),  # two workers share two cores
        (2, 8, None, 2),  # never more than 2 (measured: no gain past 2)
        (4, 2, None, 1),  # at least 1
        (2, 2, 3, 3),  # an explicit setting is kept
    ],
)
def test_each_worker_embeds_with_its_share_of_the_cores(
    monkeypatch: pytest.MonkeyPatch, workers: int, cores: int, configured: int | None, expected: int | None
) -> None:
    from gateway.services import _retrieval_for_worker

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    retrieval = {"embedding_threads": configured} if configured else {}
    settings = load_settings(workers=workers, retrieval=retrieval)
    assert _retrieval_for_worker(settings).embedding_threads == expected
