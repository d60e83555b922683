"""The container and compose stack, checked without a Docker engine: the files parse, the
services are wired to each other, and every LADDER_* variable is a real, valid setting."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from gateway.providers.router import load_routing_config
from gateway.settings import _known_env_names, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source (named volume or host path)."""
    out = {}
    for spec in service.get("volumes") or []:
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


def _ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 1)[-1].split("/")[0]) for p in service.get("ports") or []}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)
    rows = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def _runtime_stage() -> list[tuple[str, str]]:
    rows = _dockerfile_instructions()
    last_from = max(i for i, (kw, _) in enumerate(rows) if kw == "FROM")
    return rows[last_from:]


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in _runtime_stage():
        if keyword == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                env[key] = value
    return env


# -- compose -----------------------------------------------------------------------------------

def test_the_stack_has_every_service(services: dict[str, Any]) -> None:
    assert {"ladder", "ollama", "ollama-pull", "otel-collector", "jaeger", "prometheus"} <= set(services)
    assert "opentelemetry-collector-contrib" in services["otel-collector"]["image"]
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one:")
    assert services["ladder"]["build"] in (".", {"context": "."})


def test_depends_on_and_volumes_refer_to_declared_things(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for source in _mounts(service).values():
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_every_ladder_variable_is_a_known_setting(services: dict[str, Any]) -> None:
    known = _known_env_names()
    for name, service in services.items():
        unknown = sorted(k for k in _env(service) if k.startswith("LADDER_") and k not in known)
        assert not unknown, f"{name}: not ladder settings: {unknown}"
    unknown = sorted(k for k in _dockerfile_env() if k.startswith("LADDER_") and k not in known)
    assert not unknown, f"Dockerfile: not ladder settings: {unknown}"


def test_ladder_environment_validates_as_settings(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    env = {**_dockerfile_env(), **_env(services["ladder"])}
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("LADDER_CONFIG", str(empty))
    monkeypatch.chdir(tmp_path)  # no developer .env
    for key, value in env.items():
        if key.startswith("LADDER_"):
            monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.host == "0.0.0.0" and not settings.auth.dev_mode  # keys required in the container
    assert settings.providers.default_model == "ladder-chat"
    assert settings.telemetry.exporter == "otlp-grpc"
    assert settings.corpus_paths == [Path("/app/corpus")]


def test_ladder_service_ports_volume_health_and_shutdown(services: dict[str, Any]) -> None:
    ladder = services["ladder"]
    env = _env(ladder)
    assert int(env["LADDER_PORT"]) in _ports(ladder)
    assert _mounts(ladder)[env["LADDER_DATA_DIR"]] == "ladder-data"  # ledger + index survive restarts
    probe = " ".join(ladder["healthcheck"]["test"])
    assert f"127.0.0.1:{env['LADDER_PORT']}/readyz" in probe
    grace = float(str(ladder["stop_grace_period"]).rstrip("s"))
    assert grace > float(env["LADDER_SHUTDOWN_TIMEOUT_S"])


def test_upstream_and_routing_point_at_ollama(services: dict[str, Any]) -> None:
    env = _env(services["ladder"])
    base = urlparse(env["LADDER_PROVIDERS__OPENAI_BASE_URL"])
    assert base.hostname == "ollama" and base.port == 11434 and base.path == "/v1"
    assert 11434 in _ports(services["ollama"])
    routing_path = env["LADDER_PROVIDERS__ROUTING_FILE"]
    host_routing = ROOT / _mounts(services["ladder"])[routing_path]
    routing = load_routing_config(host_routing)
    chat = routing.models[env["LADDER_PROVIDERS__DEFAULT_MODEL"]]
    assert chat.fallback == "extractive"  # answers while Ollama is not ready
    pulled = services["ollama-pull"]["entrypoint"][-1]
    assert [t.model for t in chat.targets] == [pulled], "ollama-pull must fetch the model routing asks for"
    assert services["ollama-pull"]["depends_on"]["ollama"]["condition"] == "service_healthy"
    assert _env(services["ollama-pull"])["OLLAMA_HOST"] == "http://ollama:11434"


def test_traces_flow_ladder_to_collector_to_jaeger(services: dict[str, Any]) -> None:
    endpoint = urlparse(_env(services["ladder"])["LADDER_TELEMETRY__OTLP_ENDPOINT"])
    assert endpoint.hostname == "otel-collector"
    collector_service = services["otel-collector"]
    config_path = next(t for t in _mounts(collector_service) if t.endswith(".yaml"))
    assert f"--config={config_path}" in collector_service["command"]
    config = yaml.safe_load((ROOT / _mounts(collector_service)[config_path]).read_text(encoding="utf-8"))
    grpc = config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert int(grpc.rsplit(":", 1)[1]) == endpoint.port
    pipeline = config["service"]["pipelines"]["traces"]
    assert "otlp" in pipeline["receivers"]
    exporter = next(e for e in pipeline["exporters"] if e.startswith("otlp/"))
    assert config["exporters"][exporter]["endpoint"].split(":")[0] == "jaeger"
    for component in pipeline["processors"]:
        assert component in config["processors"]
    assert 16686 in _ports(services["jaeger"])


def test_prometheus_scrapes_ladder_metrics(services: dict[str, Any]) -> None:
    prometheus = services["prometheus"]
    config = yaml.safe_load((ROOT / _mounts(prometheus)["/etc/prometheus/prometheus.yml"]).read_text(encoding="utf-8"))
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "ladder")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"ladder:{_env(services['ladder'])['LADDER_PORT']}"]


def test_services_with_a_probe_have_healthchecks(services: dict[str, Any]) -> None:
    for name in ("ladder", "ollama", "jaeger", "prometheus"):
        check = services[name]["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 1


# -- Dockerfile ------------------------------------------------------------------------------

def test_dockerfile_runs_as_non_root_with_a_readiness_healthcheck() -> None:
    runtime = _runtime_stage()
    users = [rest for kw, rest in runtime if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [rest for kw, rest in runtime if kw == "HEALTHCHECK"]
    assert len(health) == 1 and "/readyz" in health[0]
    command = next(rest for kw, rest in reversed(runtime) if kw == "CMD")
    assert command.startswith("[") and '"serve", "--host", "0.0.0.0"' in command
    assert any(kw == "EXPOSE" and "8000" in rest for kw, rest in runtime)


def test_dockerfile_base_torch_pin_and_offline_assets() -> None:
    rows = _dockerfile_instructions()
    text = " ".join(rest for _, rest in rows)
    assert "python:3.11-slim" in text
    pin = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pin is not None and f'"torch=={pin.group(1)}"' in text  # the same pin, from the CPU index
    assert "download.pytorch.org/whl/cpu" in text
    env = _dockerfile_env()
    assert env["HF_HUB_OFFLINE"] == "1" and env["TIKTOKEN_CACHE_DIR"]
    runs = " ".join(rest for kw, rest in _runtime_stage() if kw == "RUN")
    assert "prepare_offline_encodings" in runs and "ladder ingest" in runs


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    for must_skip in (".venv", "var", "bench", ".git"):
        assert must_skip in ignored
    for keyword, rest in _dockerfile_instructions():
        if keyword != "COPY" or "--from=" in rest:
            continue
        sources = [token for token in rest.split()[:-1] if not token.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: missing"
            assert source.split("/")[0] not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_entrypoint_is_valid_posix_shell() -> None:
    script = DEPLOY / "docker-entrypoint.sh"
    assert script.read_text(encoding="utf-8").startswith("#!/bin/sh")
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_entrypoint_seeds_an_empty_data_dir_and_keeps_an_existing_index(tmp_path: Path) -> None:
    """Run the real script with the seed folder redirected (it is fixed at /opt/ladder/seed)."""
    seed, data = tmp_path / "seed", tmp_path / "data"
    (seed / "models").mkdir(parents=True)
    (seed / "models" / "model.abc.onnx").write_text("m1")
    (seed / "index" / "v1").mkdir(parents=True)
    (seed / "index" / "v1" / "complete").write_text("")
    script = (DEPLOY / "docker-entrypoint.sh").read_text(encoding="utf-8").replace("/opt/ladder/seed", str(seed))
    runner = tmp_path / "entrypoint.sh"
    runner.write_text(script, encoding="utf-8")
    env = {**os.environ, "LADDER_DATA_DIR": str(data)}
    out = subprocess.run(["sh", str(runner), sys.executable, "-c", "print('ran')"], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ran"
    assert (data / "index" / "v1" / "complete").is_file() and (data / "models" / "model.abc.onnx").is_file()
    # A later image brings a new model file and index; the volume keeps its own index.
    (seed / "models" / "model.def.onnx").write_text("m2")
    (seed / "index" / "v2").mkdir()
    subprocess.run(["sh", str(runner), "true"], env=env, check=True)
    assert (data / "models" / "model.def.onnx").is_file()
    assert not (data / "index" / "v2").exists()


def test_the_tiktoken_step_of_the_image_works_offline(tmp_path: Path) -> None:
    """The image's build step, run here: the packaged BPE files land in TIKTOKEN_CACHE_DIR."""
    runs = [rest for kw, rest in _runtime_stage() if kw == "RUN"]
    snippet = re.search(r'python -c "([^"]*prepare_offline_encodings[^"]*)"', " ".join(runs))
    assert snippet is not None
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", snippet.group(1)], env=env, check=True, cwd=ROOT)
    assert len(list(tmp_path.iterdir())) >= 2  # cl100k_base and o200k_base
