"""WordPress REST API exports (``/wp-json/wp/v2/posts``): one post object or a list of them."""

from __future__ import annotations

import html as htmllib
import json
from pathlib import Path
from typing import Any

from retrieval.documents import Blueprint
from retrieval.errors import IngestError
from retrieval.loaders.html import parse_html

# WordPress category classes that say nothing about the job family.
_GENERIC_CATEGORIES = {"uncategorized", "engineer", "blog"}


def _rendered(post: dict[str, Any], field: str) -> str:
    value = post.get(field)
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _family(post: dict[str, Any]) -> str | None:
    for cls in post.get("class_list") or []:
        if isinstance(cls, str) and cls.startswith("category-"):
            name = cls.removeprefix("category-")
            if name not in _GENERIC_CATEGORIES:
                return name
    return None


def parse_post(post: Any, *, path: Path, position: int | None = None) -> Blueprint:
    where = path if position is None else Path(f"{path}[{position}]")
    if not isinstance(post, dict):
        raise IngestError(where, "expected a WordPress post object")
    title = htmllib.unescape(_rendered(post, "title")).strip()
    body = _rendered(post, "content")
    if not title:
        raise IngestError(where, "post has no title.rendered")
    if not body.strip():
        raise IngestError(where, "empty document: post has no content.rendered")
    meta: dict[str, object] = {
        "source": post.get("link") or str(path),
        "version": post.get("modified_gmt") or post.get("modified") or post.get("date"),
        "family": _family(post),
        "metadata": {
            "wordpress_id": post.get("id"),
            "published": post.get("date"),
            "modified": post.get("modified"),
            "link": post.get("link"),
            "wordpress_slug": post.get("slug"),
        },
    }
    return parse_html(body, path=where, title=title, meta=meta)


class WordPressLoader:
    name = "wordpress"
    suffixes = (".wp.json", ".json")

    def load(self, path: Path) -> list[Blueprint]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise IngestError(path, f"malformed JSON at line {exc.lineno}: {exc.msg}") from exc
        except UnicodeDecodeError as exc:
            raise IngestError(path, f"not UTF-8 text ({exc.reason})") from exc
        if isinstance(data, list):
            if not data:
                raise IngestError(path, "empty document: the export holds no posts")
            return [parse_post(post, path=path, position=i) for i, post in enumerate(data)]
        if isinstance(data, dict) and ("content" in data or "title" in data):
            return [parse_post(data, path=path)]
        raise IngestError(path, "unknown JSON format: expected a WordPress REST post export")
