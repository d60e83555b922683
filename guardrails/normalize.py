"""Text normalization for scanning: undo the usual tricks that hide an instruction.

Attackers hide "ignore previous instructions" from pattern rules with
look-alike letters (Cyrillic "о" for Latin "o"), invisible characters between
letters, fullwidth or mathematical alphabets, leetspeak ("1gn0r3"), spaced
letters ("i g n o r e"), or an encoded payload (base64, hex, rot13, URL
escapes, Unicode tag characters). ``scan_views`` returns every readable
*view* of a text so the rules can run on each one; the views are only scanned,
never shown or sent anywhere.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote

# Latin look-alikes from Cyrillic and Greek (the common homoglyph set used in
# spoofing; Unicode's full confusables.txt is far larger than what attacks use).
# fmt: off
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ɡ": "g", "ӏ": "l", "һ": "h", "ԛ": "q", "ԝ": "w", "ь": "b",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "α": "a",
        "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x", "ω": "w", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H",
        "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y",
        "Χ": "X", "ı": "i", "ł": "l", "ø": "o",
    }
)
# fmt: on

# Leetspeak digits and symbols inside words. "1" is ambiguous (i or l), so the
# l-reading gets its own view.
_LEET_I = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "i",
        "8": "b",
        "€": "e",
    }
)
_LEET_L = str.maketrans({"1": "l", "|": "l"})

_TAG_BLOCK = range(0xE0000, 0xE0080)
_WORD_WITH_LEET = re.compile(r"\b(?=\w*[a-z])(?=\w*[0-9@$!|€])[\w@$!|€]{3,}")
# Three or more single letters joined by one separator: "i g n o r e", "r.e.v.e.a.l".
_SPACED = re.compile(r"(?<![\w])(?:[^\W_](?:[ .\-_*·/]{1,3})){3,}[^\W_](?![\w])")
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_\-]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[ :]?){12,}\b")
_SPACES = re.compile(r"[ \t\u00a0]+")
_NEWLINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ScanViews:
    """All readable forms of one text. ``views`` maps a view name to lower-cased text."""

    clean: str
    views: dict[str, str]
    signals: list[str] = field(default_factory=list)


def _is_invisible(char: str) -> bool:
    # Cf = format characters: zero-width space/joiners, BOM, bidi overrides,
    # soft hyphen, tag characters. Mn variation selectors carry no letters either.
    category = unicodedata.category(char)
    if category == "Cf":
        return True
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _has_invisible(text: str) -> bool:
    # ASCII holds no format characters (Cf starts at U+00AD), and most text is ASCII:
    # the per-character scan cost more than the rest of the input guards' cleaning.
    return not text.isascii() and any(_is_invisible(c) for c in text)


def _strip_invisible(text: str) -> str:
    return "".join(c for c in text if not _is_invisible(c)) if _has_invisible(text) else text


def clean_text(text: str) -> str:
    """NFKC, invisible characters removed, runs of spaces collapsed. Keeps case and script.

    This is the form that is embedded and sent on: it changes nothing a reader can see.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _strip_invisible(text)
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n\n", text).strip()


def _hidden_tags(text: str) -> str:
    # Unicode tag characters U+E0020..E007E mirror ASCII and render as nothing:
    # a known way to smuggle an instruction past a human reviewer.
    return "".join(chr(ord(c) - 0xE0000) for c in text if ord(c) in _TAG_BLOCK and ord(c) > 0xE001F)


def _printable_ratio(text: str) -> float:
    if not text:
        return 0.0
    good = sum(1 for c in text if c.isprintable() or c in "\n\t")
    return good / len(text)


def _decode_bytes(raw: bytes) -> str | None:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(c.isalpha() for c in decoded)
    if len(decoded) < 6 or _printable_ratio(decoded) < 0.9 or letters < len(decoded) * 0.5:
        return None
    return decoded


def _base64_payloads(text: str) -> list[str]:
    found = []
    for match in _B64.finditer(text):
        token = match.group(0)
        if token.isalpha() and (token.islower() or token.isupper()):
            continue  # a long plain word, not an encoding
        padded = token + "=" * (-len(token) % 4)
        for decoder in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decoder(padded)
            except (binascii.Error, ValueError):
                continue
            decoded = _decode_bytes(raw)
            if decoded:
                found.append(decoded)
                break
    return found


def _hex_payloads(text: str) -> list[str]:
    found = []
    for match in _HEX.finditer(text):
        digits = re.sub(r"[ :]", "", match.group(0))
        if len(digits) % 2:
            continue
        decoded = _decode_bytes(bytes.fromhex(digits))
        if decoded:
            found.append(decoded)
    return found


# Words attacks hinge on; misspelt on purpose ("ingore", "instrucitons") to dodge rules.
_TRIGGER_WORDS = (
    "ignore",
    "disregard",
    "forget",
    "instructions",
    "previous",
    "everything",
    "before",
    "prompt",
    "system",
    "directions",
    "what",
    "above",
    "vergiss",
    "ignoriere",
    "anweisungen",
)
_TOKEN = re.compile(r"[a-zäöüß]+")


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (Damerau: a swap of neighbours costs 1), capped."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[len(b)]


@lru_cache(maxsize=4096)
def _fold_typo(token: str) -> str:
    if len(token) < 4 or token in _TRIGGER_WORDS:
        return token
    for word in _TRIGGER_WORDS:
        if word[0] != token[0] or abs(len(word) - len(token)) > 2:
            continue
        # One edit for words under eight letters, two for long ones: "ingore" ->
        # "ignore" and "instrucitons" -> "instructions", while "become" does not
        # turn into "before".
        limit = 2 if len(word) >= 8 else 1
        if _edit_distance(token, word, limit) <= limit:
            if token.rstrip("s") == word or word.rstrip("s") == token:
                return token
            return word
    return token


def _fold_typos(text: str) -> str:
    return _TOKEN.sub(lambda m: _fold_typo(m.group(0)), text)


def _despace(text: str) -> str:
    def join(match: re.Match[str]) -> str:
        run = match.group(0)
        words = re.split(r"[ .\-_*·/]{2,}", run)  # a wider gap separates words
        return " ".join(re.sub(r"[ .\-_*·/]", "", word) for word in words)

    return _SPACED.sub(join, text)


def scan_views(text: str, max_depth: int = 2) -> ScanViews:
    """Every readable view of ``text`` for rule scanning (lower-cased), plus obfuscation signals."""
    signals: list[str] = []
    nfkc = unicodedata.normalize("NFKC", text)
    if nfkc != text and any(ord(c) > 0xFF for c in text):
        signals.append("unicode_compatibility_forms")
    tags = _hidden_tags(nfkc)
    if tags:
        signals.append("unicode_tag_characters")
    if _has_invisible(nfkc):
        signals.append("invisible_characters")
    clean = clean_text(nfkc)
    folded = clean.translate(_CONFUSABLES)
    if folded != clean and re.search(r"[a-zA-Z]", clean):
        signals.append("confusable_letters")
    lower = folded.lower()
    views: dict[str, str] = {"clean": lower}
    if tags:
        views["hidden_tags"] = tags.lower()

    leet = _WORD_WITH_LEET.sub(lambda m: m.group(0).translate(_LEET_I), lower)
    if leet != lower:
        signals.append("leetspeak")
        views["leet"] = leet
        leet_l = _WORD_WITH_LEET.sub(
            lambda m: m.group(0).translate(_LEET_L).translate(_LEET_I), lower
        )
        if leet_l != leet:
            views["leet_l"] = leet_l
    typo = _fold_typos(lower)
    if typo != lower:
        signals.append("misspelt_trigger_words")
        views["typo"] = typo
    # Despace before runs of spaces are collapsed: the wider gaps mark word ends.
    uncollapsed = _strip_invisible(nfkc).translate(_CONFUSABLES).lower()
    despaced = _SPACES.sub(" ", _despace(uncollapsed)).strip()
    if despaced != _SPACES.sub(" ", uncollapsed).strip():
        signals.append("spaced_letters")
        views["despaced"] = despaced
    # Letters only: catches separators the despacing rule does not know.
    views["squashed"] = re.sub(r"[^a-zäöüß]", "", views.get("leet", lower))
    views["rot13"] = codecs.encode(lower, "rot13")
    if "%" in lower and re.search(r"%[0-9a-f]{2}", lower):
        views["url_decoded"] = unquote(lower)
    if "&" in lower and ";" in lower:
        unescaped = html.unescape(lower)
        if unescaped != lower:
            views["html_unescaped"] = unescaped

    if max_depth > 0:
        for kind, payloads in (("base64", _base64_payloads(clean)), ("hex", _hex_payloads(clean))):
            for index, payload in enumerate(payloads):
                signals.append(f"{kind}_payload")
                inner = scan_views(payload, max_depth - 1)
                for name, view in inner.views.items():
                    if name not in ("rot13", "squashed", "typo"):
                        views[f"{kind}{index}.{name}"] = view
    return ScanViews(clean=clean, views=views, signals=sorted(set(signals)))
