"""Markdown loader: YAML front matter plus CommonMark with GFM tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from retrieval.documents import Blueprint, slugify
from retrieval.errors import IngestError
from retrieval.loaders.base import BlueprintBuilder, guess_level

_KNOWN_FIELDS = {"role", "slug", "family", "level", "version", "source", "sample", "summary"}


def _inline_text(token: Token) -> str:
    """Plain text of an inline token (links keep their label, code keeps its text)."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def _inline_lead(token: Token) -> str | None:
    # markdown-it emits an empty text token before a leading strong_open.
    children = [c for c in token.children or [] if not (c.type == "text" and not c.content)]
    if len(children) >= 3 and children[0].type == "strong_open":
        lead: list[str] = []
        for child in children[1:]:
            if child.type == "strong_close":
                return "".join(lead)
            lead.append(child.content)
    return None


class _Walker:
    def __init__(self, builder: BlueprintBuilder) -> None:
        self.builder = builder

    def run(self, tokens: list[Token]) -> None:
        depth = -1
        heading_level = 0
        in_item: list[bool] = []  # per open list item: has its first paragraph been emitted
        headers: list[str] = []
        row: list[str] = []
        in_head = False
        for i, tok in enumerate(tokens):
            t = tok.type
            if t == "heading_open":
                heading_level = int(tok.tag[1])
            elif t == "inline" and heading_level:
                self.builder.heading(heading_level, _inline_text(tok))
                heading_level = 0
            elif t in ("bullet_list_open", "ordered_list_open"):
                depth += 1
            elif t in ("bullet_list_close", "ordered_list_close"):
                depth -= 1
            elif t == "list_item_open":
                in_item.append(False)
            elif t == "list_item_close":
                in_item.pop()
            elif t == "thead_open":
                in_head, headers = True, []
            elif t == "thead_close":
                in_head = False
            elif t == "tr_open":
                row = []
            elif t == "tr_close" and not in_head:
                self.builder.table_row(headers, row)
            elif t == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
                (headers if in_head else row).append(_inline_text(tok))
            elif t == "inline" and tokens[i - 1].type == "paragraph_open":
                text = _inline_text(tok)
                if in_item and not in_item[-1]:
                    self.builder.list_item(text, label=_inline_lead(tok), depth=max(depth, 0))
                    in_item[-1] = True
                elif in_item:
                    # A second paragraph inside the same item continues it as its own block.
                    self.builder.list_item(text, depth=max(depth, 0) + 1)
                else:
                    self.builder.paragraph(text)


def _front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        raise IngestError(path, f"invalid YAML front matter: {exc}") from exc
    return dict(post.metadata), post.content


def parse_markdown(text: str, *, path: Path) -> Blueprint:
    meta, body = _front_matter(path, text)
    if not body.strip():
        raise IngestError(path, "empty document: no Markdown body")
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(body)
    h1 = re.search(r"^#\s+(.+)$", body, flags=re.MULTILINE)
    title = str(meta.get("role") or (h1.group(1).strip() if h1 else ""))
    if not title:
        raise IngestError(path, "no title: add front matter 'role:' or a '# Title' line")
    role = str(meta.get("role") or title)
    slug = str(meta.get("slug") or slugify(path.name.split(".")[0]))
    known = {k: meta[k] for k in _KNOWN_FIELDS - {"role", "slug"} if k in meta}
    if "version" in known and known["version"] is not None:
        known["version"] = str(known["version"])
    known.setdefault("level", guess_level(role))
    known.setdefault("source", str(path))
    extra = {k: v for k, v in meta.items() if k not in _KNOWN_FIELDS}
    builder = BlueprintBuilder(
        title=h1.group(1).strip() if h1 else title, slug=slug, role=role, metadata=extra, **known
    )
    _Walker(builder).run(tokens)
    blueprint = builder.build()
    if not blueprint.sections:
        raise IngestError(path, "empty document: no headings or text found")
    return blueprint


class MarkdownLoader:
    name = "markdown"
    suffixes = (".md", ".markdown")

    def load(self, path: Path) -> list[Blueprint]:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise IngestError(path, f"not UTF-8 text ({exc.reason})") from exc
        if not text.strip():
            raise IngestError(path, "empty file")
        return [parse_markdown(text, path=path)]
