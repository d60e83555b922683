"""The employees' chat page: ``/`` and its static files from ``gateway/web/``.

Caching: the page itself is revalidated on every load (``no-cache`` + ETag), and
it links its stylesheet and script with ``?v=<content hash>``. A request that
carries the current hash may be cached for a year (``immutable``); any other
request for a static file is revalidated, so a deploy is visible on the next
reload and nothing stale is ever served under the current hash.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.errors import NotFoundError

router = APIRouter(include_in_schema=False)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# A flat folder of plain names: no slashes, no dot-files, so no path can leave WEB_DIR.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.(?:js|css|svg)$")
# The page runs no inline script or style and talks only to its own origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_SECURITY = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_ONE_YEAR = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str
    version: str  # short content hash used in ?v=


def _asset(body: bytes, media_type: str) -> _Asset:
    digest = hashlib.sha256(body).hexdigest()
    return _Asset(body, media_type, f'"{digest[:32]}"', digest[:12])


class WebAssets:
    """Reads the static files once (on first request), fingerprints them and renders
    the page with versioned links. Files are small (tens of KB), so memory is cheap and
    every later request is a dict lookup."""

    def __init__(self, root: Path = WEB_DIR) -> None:
        self._root = root
        self._files: dict[str, _Asset] | None = None
        self._page: _Asset | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[dict[str, _Asset], _Asset]:
        with self._lock:
            if self._files is None or self._page is None:
                files = {
                    path.name: _asset(path.read_bytes(), _TYPES[path.suffix])
                    for path in sorted(self._root.iterdir())
                    if path.is_file() and _NAME.match(path.name)
                }
                html = (self._root / "index.html").read_text(encoding="utf-8")
                for name, asset in files.items():
                    html = html.replace(f'"/static/{name}"', f'"/static/{name}?v={asset.version}"')
                self._files, self._page = files, _asset(html.encode(), _TYPES[".html"])
            return self._files, self._page

    def page(self) -> _Asset:
        return self._load()[1]

    def file(self, name: str) -> _Asset | None:
        return self._load()[0].get(name) if _NAME.match(name) else None


_assets = WebAssets()


def _respond(request: Request, asset: _Asset, cache_control: str, extra: dict[str, str]) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, **extra}
    if asset.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/")
async def page(request: Request) -> Response:
    return _respond(request, _assets.page(), _REVALIDATE, _SECURITY)


@router.get("/static/{name}")
async def static_file(name: str, request: Request) -> Response:
    asset = _assets.file(name)
    if asset is None:
        raise NotFoundError(f"no static file named {name!r}", code="not_found")
    fresh = request.query_params.get("v") == asset.version
    return _respond(request, asset, _ONE_YEAR if fresh else _REVALIDATE, {"X-Content-Type-Options": "nosniff"})
