// Model text -> DOM nodes. Everything the model or the corpus wrote goes in as text
// nodes (never parsed as HTML); the only structure recognised is paragraphs, "- " and
// "1. " list lines, **bold**, and [n] citation markers.

const SVG_NS = "http://www.w3.org/2000/svg";
const MARKER = /\[(\d{1,3})\]/g;
const BULLET = /^\s*[-*•]\s+(.*)$/;
const NUMBERED = /^\s*\d{1,3}[.)]\s+(.*)$/;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "ic");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG_NS, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

// Section paths usually start with the document's own title; say it once.
export function sectionOf(c) {
  const prefix = `${c.document} › `;
  return c.section_path.startsWith(prefix) ? c.section_path.slice(prefix.length) : c.section_path;
}

export function citationLabel(c) {
  return `${c.document} — ${sectionOf(c)}`;
}

// citations: Map marker -> citation once the final chunk arrived, null while streaming.
// onCite(citation, button) opens the passage.
export function renderAnswer(container, text, citations, onCite) {
  const frag = document.createDocumentFragment();
  let list = null;
  let listKind = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    const item = bullet || numbered;
    if (item) {
      const kind = bullet ? "ul" : "ol";
      if (!list || listKind !== kind) {
        list = el(kind);
        listKind = kind;
        frag.append(list);
      }
      list.append(inline(el("li"), item[1], citations, onCite));
      continue;
    }
    list = null;
    if (line.trim()) frag.append(inline(el("p"), line.trim(), citations, onCite));
  }
  container.replaceChildren(frag);
}

function inline(parent, text, citations, onCite) {
  const parts = text.split(/\*\*(.+?)\*\*/g); // odd indexes were inside **...**
  parts.forEach((part, i) => {
    if (!part) return;
    const target = i % 2 ? parent.appendChild(el("strong")) : parent;
    withMarkers(target, part, citations, onCite);
  });
  return parent;
}

function withMarkers(parent, text, citations, onCite) {
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    // "month [1]." reads as "month¹." - the space belongs to the plain-text form only.
    parent.append(text.slice(last, match.index).replace(/[ \t]+$/, ""));
    parent.append(marker(Number(match[1]), match[0], citations, onCite));
    last = match.index + match[0].length;
  }
  parent.append(text.slice(last));
}

function marker(n, raw, citations, onCite) {
  if (citations === null) {
    // Still streaming: the citations arrive with the final chunk.
    return el("sup", {}, el("button", { type: "button", class: "cite", disabled: true, "aria-label": `Source ${n}, loading`, text: String(n) }));
  }
  const c = citations.get(n);
  if (!c) return document.createTextNode(raw); // a marker the server did not back with a passage
  const button = el("button", {
    type: "button",
    class: "cite",
    "data-marker": n,
    "aria-label": `Source ${n}: ${citationLabel(c)}`,
    title: citationLabel(c),
    text: String(n),
  });
  button.addEventListener("click", () => onCite(c, button));
  return el("sup", {}, button);
}

export function renderSources(citations, onCite) {
  const list = el("ul");
  for (const c of citations) {
    const chip = el(
      "button",
      { type: "button", class: "chip", "data-marker": c.marker, "aria-label": `Open source ${c.marker}: ${citationLabel(c)}` },
      el("b", { text: `[${c.marker}]` }),
      el("span", { text: citationLabel(c) }),
    );
    chip.addEventListener("click", () => onCite(c, chip));
    list.append(el("li", {}, chip));
  }
  return el("div", { class: "sources" }, el("h3", { text: "Sources" }), list);
}

// Plain text for the clipboard: the answer, then its sources.
export function answerAsText(text, citations) {
  const lines = [text.trim()];
  if (citations.length) {
    lines.push("", "Sources:");
    for (const c of citations) lines.push(`[${c.marker}] ${citationLabel(c)}`);
  }
  return lines.join("\n");
}
