"""Texts coming from and going to Moodle: multilingual markup, HTML, language codes.

Moodle keeps translations inside one text, either with the core multilang filter
(`<span lang="sr_lt" class="multilang">...</span>`) or with the multilang2 filter
(`{mlang en}...{mlang}`; text outside the blocks belongs to every language). Imports turn both
into language maps; exports write `{mlang xx}` blocks. Our texts are plain: imported HTML is
reduced to its text (line breaks kept), and exports escape it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from app.core.i18n import is_language_tag

# Moodle language pack codes whose BCP 47 tag is not the obvious one.
_MOODLE_TO_BCP47 = {"sr_lt": "sr-Latn", "sr_cr": "sr-Cyrl", "sr_cr_bo": "sr-Cyrl-BA", "sr": "sr"}
_BCP47_TO_MOODLE = {v.lower(): k for k, v in _MOODLE_TO_BCP47.items()}
_MLANG = re.compile(r"\{mlang\s+([A-Za-z0-9_,\- ]+)\}(.*?)\{mlang\}", re.DOTALL | re.IGNORECASE)
_SPAN = re.compile(
    r"<span\b(?=[^>]*\bclass\s*=\s*[\"']?multilang[\"']?)(?=[^>]*\blang\s*=\s*[\"']?([A-Za-z0-9_\-]+)[\"']?)[^>]*>(.*?)</span\s*>",
    re.DOTALL | re.IGNORECASE,
)
_TAG = re.compile(r"<[A-Za-z/!][^>]*>")


def language_tag(moodle_code: str) -> str | None:
    """A BCP 47 tag for a Moodle language code (`sr_lt` -> `sr-Latn`, `pt_br` -> `pt-BR`)."""
    code = moodle_code.strip().lower()
    if code in _MOODLE_TO_BCP47:
        return _MOODLE_TO_BCP47[code]
    parts = re.split(r"[_-]", code)
    tag = "-".join([parts[0], *[p.upper() if len(p) == 2 else p.title() if len(p) == 4 else p for p in parts[1:]]])
    return tag if is_language_tag(tag) else None


def moodle_code(tag: str) -> str:
    lowered = tag.lower()
    return _BCP47_TO_MOODLE.get(lowered, lowered.replace("-", "_"))


class _Text(HTMLParser):
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.images = 0
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "img":
            self.images += 1
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" [{alt}] ")
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(value: str) -> tuple[str, int]:
    """Plain text of an HTML fragment, and how many images it had (they are not imported)."""
    parser = _Text()
    parser.feed(value)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text, parser.images


def looks_like_html(value: str) -> bool:
    return bool(_TAG.search(value))


@dataclass
class ParsedText:
    value: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _codes(block: re.Match) -> list[str]:
    return [c for c in re.split(r"[,\s]+", block.group(1).strip()) if c]


def _split_mlang(value: str) -> dict[str, str] | None:
    blocks = list(_MLANG.finditer(value))
    if not blocks:
        return None
    result: dict[str, str] = {}
    for code in dict.fromkeys(c for m in blocks for c in _codes(m)):
        # Text outside the blocks is every language's, in place; then the language's own blocks.
        pieces: list[str] = []
        pos = 0
        for m in blocks:
            pieces.append(value[pos:m.start()])
            if code in _codes(m):
                pieces.append(m.group(2))
            pos = m.end()
        pieces.append(value[pos:])
        result[code] = "".join(pieces)
    return result


def _split_spans(value: str) -> dict[str, str] | None:
    spans = list(_SPAN.finditer(value))
    if not spans:
        return None
    result: dict[str, list[str]] = {}
    for m in spans:
        result.setdefault(m.group(1), []).append(m.group(2))
    return {code: "".join(parts) for code, parts in result.items()}


def parse_text(value: str, *, default_language: str, is_html: bool | None = None, what: str = "text") -> ParsedText:
    """A language map from a Moodle text (multilingual markup, HTML or plain)."""
    out = ParsedText()
    per_code = _split_mlang(value) or _split_spans(value)
    raw: dict[str, str] = {}
    if per_code is None:
        raw[default_language] = value
    else:
        for code, text in per_code.items():
            if code.lower() == "other":
                # multilang2's fallback text: the import's default language unless given explicitly.
                raw.setdefault(default_language, text)
                continue
            tag = language_tag(code)
            if tag is None:
                out.errors.append(f"{what}: {code!r} is not a language code")
                continue
            raw[tag] = text
    for tag, text in raw.items():
        if is_html or (is_html is None and looks_like_html(text)):
            text, images = html_to_text(text)
            if images:
                out.warnings.append(f"{what}: {images} embedded image(s) not imported")
        text = text.strip()
        if text:
            out.value[tag] = text
    if "@@PLUGINFILE@@" in value:
        out.warnings.append(f"{what}: links to embedded files (@@PLUGINFILE@@) do not work outside Moodle")
    return out


def format_text(value: dict[str, str]) -> str:
    """One Moodle text for a language map: `{mlang xx}` blocks when there are several languages."""
    if not value:
        return ""
    if len(value) == 1:
        return next(iter(value.values()))
    return "".join(f"{{mlang {moodle_code(tag)}}}{text}{{mlang}}" for tag, text in value.items())
