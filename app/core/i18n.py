"""Language tags (BCP 47 / RFC 5646), language maps and language negotiation."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# RFC 5646 langtag (plus private use and the grandfathered irregular tags are not needed here).
_LANGTAG = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"  # language (+ extlang)
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"  # variants
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"  # extensions
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?$"  # private use
    r"|^[Xx](?:-[A-Za-z0-9]{1,8})+$"
)


def is_language_tag(tag: str) -> bool:
    return bool(_LANGTAG.match(tag))


def _check_tag(tag: str) -> str:
    if not is_language_tag(tag):
        raise ValueError(f"{tag!r} is not a BCP 47 language tag")
    return tag


def _check_map(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise ValueError("at least one language is required")
    for tag, text in value.items():
        _check_tag(tag)
        if not text.strip():
            raise ValueError(f"the {tag!r} text is empty")
    return value


LanguageTag = Annotated[str, AfterValidator(_check_tag)]
LanguageMap = Annotated[dict[str, str], AfterValidator(_check_map)]


def parse_accept_language(header: str | None) -> list[str]:
    """Tags from an Accept-Language header, best first (q=0 dropped, `*` ignored)."""
    if not header:
        return []
    weighted = []
    for index, part in enumerate(header.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, val = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(val)
                except ValueError:
                    quality = 0.0
        tag = tag.strip()
        if quality > 0 and tag != "*" and is_language_tag(tag):
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def pick(value: dict[str, str], preferred: list[str], fallback: tuple[str, ...] = ("en",)) -> tuple[str, str] | None:
    """Choose one entry of a language map: exact tag, then by prefix (sr -> sr-Latn), then fallback."""
    if not value:
        return None
    lowered = {k.lower(): k for k in value}
    for want in [*preferred, *fallback]:
        w = want.lower()
        if w in lowered:
            key = lowered[w]
            return key, value[key]
        # "sr-Latn-RS" matches "sr-Latn"; "sr" matches "sr-Latn".
        for lk, key in lowered.items():
            if w.startswith(lk + "-") or lk.startswith(w + "-"):
                return key, value[key]
    key = next(iter(value))
    return key, value[key]
