"""HTML loader (plain pages and the ``content.rendered`` body of WordPress exports)."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag

from retrieval.documents import Blueprint, slugify
from retrieval.errors import IngestError
from retrieval.loaders.base import BlueprintBuilder, guess_level, split_role_title

_DASHES = ("\u2013", "\u2014", "-")


def _text(node: Tag | NavigableString) -> str:
    """Visible text with <br> as a line break."""
    if isinstance(node, NavigableString):
        return str(node)
    for br in node.find_all("br"):
        br.replace_with("\n")
    return node.get_text("")


def _lead(node: Tag) -> str | None:
    """The bold text a list item or paragraph opens with, if any."""
    for child in node.children:
        if isinstance(child, NavigableString):
            if child.strip():
                return None
            continue
        if child.name in ("strong", "b"):
            return child.get_text(" ").strip()
        if child.name == "p":
            return _lead(child)
        return None
    return None


def _dash_lines(text: str) -> tuple[str, list[str]]:
    """Split 'Head:\n– a\n– b' pseudo-lists (common in WordPress posts) into head and items."""
    head: list[str] = []
    items: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(_DASHES) and (items or head):
            items.append(line.lstrip("".join(_DASHES)).strip())
        elif items:
            items[-1] += " " + line
        else:
            head.append(line)
    return " ".join(head), items


def _emit_list(builder: BlueprintBuilder, node: Tag, depth: int) -> None:
    for li in node.find_all("li", recursive=False):
        nested = [child for child in li.find_all(["ul", "ol"], recursive=False)]
        for sub in nested:
            sub.extract()
        label = _lead(li)
        head, items = _dash_lines(_text(li))
        # "Skill<br>– Use: …<br>– Importance: …" stays one item so its facts travel together.
        text = head if not items else head + " – " + " – ".join(items)
        builder.list_item(text, label=label, depth=depth)
        for sub in nested:
            _emit_list(builder, sub, depth + 1)


def _emit_table(builder: BlueprintBuilder, table: Tag) -> None:
    rows = table.find_all("tr")
    if not rows:
        return
    header_cells = rows[0].find_all(["th", "td"])
    headers = [c.get_text(" ").strip() for c in header_cells]
    for row in rows[1:]:
        cells = [_text(c) for c in row.find_all(["td", "th"])]
        builder.table_row(headers, cells)


def emit_html(builder: BlueprintBuilder, root: Tag) -> None:
    """Walk block-level elements in document order and feed the builder."""
    for node in root.children:
        if not isinstance(node, Tag):
            if isinstance(node, NavigableString) and node.strip():
                builder.paragraph(str(node))
            continue
        name = node.name
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            builder.heading(int(name[1]), node.get_text(" "))
        elif name == "p":
            head, items = _dash_lines(_text(node))
            if items:
                builder.list_item(head, label=head, depth=0)
                for item in items:
                    builder.list_item(item, depth=1)
            else:
                builder.paragraph(head)
        elif name in ("ul", "ol"):
            _emit_list(builder, node, 0)
        elif name == "table":
            _emit_table(builder, node)
        elif name in ("figure", "div", "section", "article", "main", "body", "blockquote"):
            emit_html(builder, node)
        # hr, script, style, img and the like carry no blueprint content.


def parse_html(
    html: str, *, path: Path, title: str | None = None, meta: dict[str, object] | None = None
) -> Blueprint:
    soup = BeautifulSoup(html, "lxml")
    for junk in soup(["script", "style", "noscript"]):
        junk.decompose()
    if title is None:
        h1 = soup.find("h1")
        title_tag = soup.find("title")
        title = (h1 or title_tag).get_text(" ").strip() if (h1 or title_tag) else None
    if not title:
        raise IngestError(path, "no title: expected an <h1> or <title> element")
    meta = dict(meta or {})
    role = str(meta.pop("role", None) or split_role_title(title))
    slug = str(meta.pop("slug", None) or slugify(role))
    level = meta.pop("level", None) or guess_level(role)
    builder = BlueprintBuilder(title=title, slug=slug, role=role, level=level, **meta)
    body = soup.body or soup
    emit_html(builder, body)
    blueprint = builder.build()
    if not blueprint.sections:
        raise IngestError(path, "empty document: no headings or text found")
    return blueprint


class HtmlLoader:
    name = "html"
    suffixes = (".html", ".htm")

    def load(self, path: Path) -> list[Blueprint]:
        try:
            html = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise IngestError(path, f"not UTF-8 text ({exc.reason})") from exc
        if not html.strip():
            raise IngestError(path, "empty file")
        return [parse_html(html, path=path, meta={"source": str(path)})]
