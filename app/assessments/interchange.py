"""What the GIFT and Moodle XML readers produce and the writers consume (plain data, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_QUESTIONS = 2000


class DocumentUnreadable(ValueError):
    """The whole file cannot be read (not UTF-8, not XML, hostile XML): nothing is imported."""


@dataclass
class ParsedQuestion:
    """One question of an imported file: its authoring body (see `content.py`), or why not."""

    index: int  # 1-based among the questions of the file
    line: int | None = None  # where it starts (GIFT)
    name: str | None = None
    category: str | None = None
    body: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None  # e.g. a Moodle description: not a question, not an error


@dataclass(frozen=True)
class ExportQuestion:
    id: str
    version: int
    category: str | None
    tags: list[str]
    body: dict[str, Any]  # authoring shape, with name, text, feedback, explanation, points


def short_answer_entry(q: ParsedQuestion, n: int, value: str, weight: float) -> dict[str, Any] | None:
    """An accepted short-text answer as imported (GIFT and Moodle XML share the rules), or None
    when it is not imported (with a warning or an error on the question)."""
    if value == "*":
        q.warnings.append("the catch-all answer `*` is not imported")
        return None
    if "*" in value:
        q.errors.append(f"answer {n}: wildcards (*) in short answers are not supported")
        return None
    if weight <= 0:
        q.warnings.append(f"answer {n} ({value!r}) gives no credit and is not imported")
        return None
    return {"text": value, "credit": round(min(weight, 1.0), 6)}


def clean_category(path: str) -> str | None:
    """`$course$/top/Asylum/Vulnerable persons` -> `Asylum/Vulnerable persons` (Moodle writes a
    literal slash inside a name as `//`)."""
    text = path.strip()
    text = re.sub(r"^\$(course|system|module|coursecat|cat\d*)\$/?", "", text, flags=re.IGNORECASE)
    parts = [p.replace("\x00", "-").strip() for p in text.replace("//", "\x00").split("/")]
    parts = [" ".join(p.split()) for p in parts if p.strip()]
    if parts and parts[0].lower() == "top":
        parts = parts[1:]
    return "/".join(parts)[:500] or None


def clean_name(name: str) -> str | None:
    flat = " ".join(name.split())
    return flat[:255] or None
