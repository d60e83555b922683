"""The page's HTTP route and static files, without a browser or a full gateway."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.http_errors import install_error_handlers
from gateway.routes import web

WEB = Path(web.__file__).resolve().parent.parent / "web"
PAGE_BUDGET_BYTES = 60 * 1024


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(web.router)
    return TestClient(app)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_page_has_security_headers_and_revalidates(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    again = client.get("/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_page_has_no_inline_script_or_style(client: TestClient) -> None:
    tags = _tags(client.get("/").text)
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts and all(attrs.get("src") for attrs in scripts)
    assert not [tag for tag, _ in tags if tag == "style"]
    for tag, attrs in tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag


def test_assets_are_versioned_and_cached_only_under_their_current_hash(client: TestClient) -> None:
    links = re.findall(r'"(/static/[^"?]+)\?v=([0-9a-f]{12})"', client.get("/").text)
    assert {path for path, _ in links} >= {"/static/app.js", "/static/app.css", "/static/icon.svg"}
    for path, version in links:
        fresh = client.get(f"{path}?v={version}")
        assert fresh.status_code == 200
        assert fresh.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert client.get(f"{path}?v=000000000000").headers["cache-control"] == "no-cache"
        assert client.get(path).headers["cache-control"] == "no-cache"
        assert client.get(path, headers={"If-None-Match": fresh.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("name,media", [("app.js", "text/javascript"), ("api.js", "text/javascript"),
                                        ("render.js", "text/javascript"), ("app.css", "text/css"),
                                        ("icon.svg", "image/svg+xml")])
def test_static_files_have_their_media_type(client: TestClient, name: str, media: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content == (WEB / name).read_bytes()


@pytest.mark.parametrize("name", ["index.html", ".hidden.js", "..%2Fapp.py", "%2e%2e%2Fsettings.py", "app.py", "nope.js"])
def test_unknown_or_unsafe_names_are_404_json(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_module_imports_resolve_to_served_files(client: TestClient) -> None:
    for script in WEB.glob("*.js"):
        for target in re.findall(r'from\s+"\./([^"]+)"', script.read_text(encoding="utf-8")):
            assert client.get(f"/static/{target}").status_code == 200, (script.name, target)


def test_scripts_never_parse_strings_as_html() -> None:
    # Model and corpus text must reach the DOM as text nodes only.
    sinks = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval|new Function)\b")
    for script in WEB.glob("*.js"):
        assert not sinks.findall(script.read_text(encoding="utf-8")), script.name


def test_page_weight_is_within_budget() -> None:
    total = sum(p.stat().st_size for p in WEB.iterdir() if p.suffix in {".html", ".js", ".css", ".svg"})
    assert total < PAGE_BUDGET_BYTES, f"the page weighs {total} bytes (budget {PAGE_BUDGET_BYTES})"
