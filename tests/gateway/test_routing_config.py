"""A routing file with a mistake fails at start-up with a message that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import NotFoundError, SettingsError
from gateway.providers.router import Router, load_routing_config
from gateway.settings import Settings


def _router(tmp_path: Path, yaml_text: str, **settings: object) -> Router:
    path = tmp_path / "routing.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return Router(load_routing_config(path), Settings(data_dir=tmp_path, **settings))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("providers:\n  e: {type: extractive, max_itemz: 3}\nmodels: {}\n", "max_itemz"),
        ("providers:\n  u: {type: openai, base_url: '${settings.provider.openai_base_url}'}\nmodels: {}\n",
         "'provider' does not exist"),
        ("providers:\n  u: {type: telepathy}\nmodels: {}\n", "unknown type 'telepathy'"),
        ("providers:\n  e: {type: extractive}\nmodels:\n  m: {targets: [{provider: nope, model: x}]}\n",
         "unknown provider 'nope'"),
        ("providers:\n  e: {type: extractive}\nmodels:\n  m: {targetz: []}\n", "targetz"),
        ("providers: [\n", "invalid YAML"),
    ],
    ids=["extractive-option", "setting-typo", "provider-type", "target-provider", "alias-field", "yaml"],
)
def test_mistakes_are_settings_errors(tmp_path: Path, yaml_text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        _router(tmp_path, yaml_text)


def test_unset_upstream_url_skips_its_targets(tmp_path: Path) -> None:
    router = _router(
        tmp_path,
        "providers:\n  e: {type: extractive}\n  u: {type: openai, base_url: '${settings.providers.openai_base_url}'}\n"
        "models:\n  chat: {targets: [{provider: u, model: x}], fallback: e}\n",
    )
    assert router.unconfigured == {"u": "missing base_url"}
    assert [t.provider for t in router.targets("chat")] == ["e"]
    with pytest.raises(NotFoundError):
        router.targets("nope")


def test_configured_upstream_comes_first_with_its_fallback(tmp_path: Path) -> None:
    router = _router(
        tmp_path,
        "providers:\n  e: {type: extractive}\n  u: {type: openai, base_url: '${settings.providers.openai_base_url}'}\n"
        "models:\n  chat: {targets: [{provider: u, model: x, timeout_s: 2, retries: 1}], fallback: e}\n",
        providers={"openai_base_url": "http://127.0.0.1:9/v1"},
    )
    targets = router.targets("chat")
    assert [(t.provider, t.timeout_s, t.retries) for t in targets] == [("u", 2.0, 1), ("e", 30.0, 0)]
