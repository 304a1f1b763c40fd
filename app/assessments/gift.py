"""Moodle's GIFT text format: reading a bank file into question bodies, and writing one.

Reading follows Moodle's own importer (qformat_gift): questions are separated by blank lines,
`//` lines are comments (`// [tag:x]` gives tags), `$CATEGORY:` switches category, `::name::`,
`[html]`/`[moodle]`/`[plain]`/`[markdown]` text formats, escapes `\\~ \\= \\# \\{ \\} \\: \\n`,
answer weights `%50%`, per-answer feedback `#...`, general feedback `####...`, and the
missing-word form (text after the answer block). Types are told apart as Moodle does: `{}` essay,
`{#...}` numeric, `~` multiple choice (single when an answer starts with `=`, else multiple
response), `=a -> b` matching, `T`/`F` true-false, otherwise short answer. Multilingual texts
(`{mlang xx}` or multilang spans) become language maps.

Nothing here touches the database: the service validates each body like an API request.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

from app.assessments import markup
from app.assessments.interchange import (
    MAX_QUESTIONS,
    DocumentUnreadable,
    ExportQuestion,
    ParsedQuestion,
    clean_category,
    clean_name,
    short_answer_entry,
)

_PLACEHOLDERS = {"\\:": "\ue000", "\\#": "\ue001", "\\=": "\ue002", "\\{": "\ue003", "\\}": "\ue004", "\\~": "\ue005", "\\n": "\ue006"}
_RESTORE = {"\ue000": ":", "\ue001": "#", "\ue002": "=", "\ue003": "{", "\ue004": "}", "\ue005": "~", "\ue006": "\n", "\ue007": "\\"}
_PRIVATE = re.compile("[\ue000-\ue007]")
_WEIGHT = re.compile(r"^%(-?\d{1,3}(?:\.\d+)?)%")
_TAG = re.compile(r"\[tag:((?:\\\]|[^\]])+?)\]")
_FORMATS = {"html": True, "moodle": None, "plain": False, "markdown": False}
# Moodle's own export escapes the braces of {mlang xx} blocks; people writing GIFT by hand do not.
_MLANG_TOKEN = re.compile(r"\{(mlang(?:\s+[A-Za-z0-9_,\- ]+)?)\}", re.IGNORECASE)


def _escape_pre(text: str) -> str:
    text = text.replace("\\\\", "\ue007")
    for escaped, placeholder in _PLACEHOLDERS.items():
        text = text.replace(escaped, placeholder)
    return _MLANG_TOKEN.sub(lambda m: "\ue003" + m.group(1) + "\ue004", text)


def _restore(text: str) -> str:
    return "".join(_RESTORE.get(ch, ch) for ch in text)


def _blocks(text: str):
    block: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            if block:
                yield start, block
                block = []
            continue
        if not block:
            start = number
        block.append(line)
    if block:
        yield start, block


class _Reader:
    def __init__(self, default_language: str):
        self.language = default_language

    def text(self, q: ParsedQuestion, raw: str, fmt: bool | None, what: str) -> dict[str, str]:
        parsed = markup.parse_text(_restore(raw).strip(), default_language=self.language, is_html=fmt, what=what)
        q.warnings.extend(parsed.warnings)
        q.errors.extend(parsed.errors)
        return parsed.value

    def question(self, q: ParsedQuestion, text: str) -> None:
        if text.startswith("::"):
            end = text.find("::", 2)
            if end != -1:
                q.name = clean_name(_restore(text[2:end]))
                text = text[end + 2:].strip()
            else:
                text = text[2:]
        start, finish = text.find("{"), text.find("}")
        if start == -1 and finish == -1:
            q.skipped = "a description (text without an answer block) is not a question"
            return
        if start == -1 or finish == -1 or finish < start:
            q.errors.append("the answer block's braces do not match: write { and } (escape literal ones as \\{ \\})")
            return
        answer = text[start + 1:finish].strip()
        if text.endswith("}"):
            question_text = text[:start] + text[finish + 1:]
        else:  # missing-word format
            question_text = text[:start] + "_____" + text[finish + 1:]
        if "{" in question_text or "}" in question_text:
            q.errors.append("a question has one answer block; escape other braces as \\{ \\}")
            return
        question_text = question_text.strip()
        fmt: bool | None = None
        if question_text.startswith("["):
            close = question_text.find("]")
            name = question_text[1:close].lower() if close > 0 else ""
            if name in _FORMATS:
                fmt = _FORMATS[name]
                question_text = question_text[close + 1:]
        general = ""
        split = answer.rfind("####")
        if split != -1:
            general, answer = answer[split + 4:], answer[:split].strip()
        body: dict[str, Any] = {"text": self.text(q, question_text, fmt, "text")}
        feedback = self.text(q, general, fmt, "general feedback")
        if feedback:
            body["feedback"] = feedback
        if q.name:
            body["name"] = q.name
        if q.category:
            body["category"] = q.category
        if not answer:
            body["type"] = "essay"
        elif answer.startswith("#"):
            self.numeric(q, body, answer[1:], fmt)
        elif "~" in answer:
            self.choice(q, body, answer, fmt)
        elif "=" in answer and "->" in answer:
            self.matching(q, body, answer, fmt)
        elif (answer.split("#", 1)[0].strip() if "#" in answer[1:] else answer) in ("T", "TRUE", "F", "FALSE"):
            self.true_false(q, body, answer, fmt)
        else:
            self.short_text(q, body, answer, fmt)
        q.body = body

    @staticmethod
    def _parts(answer: str, separator: str) -> list[str]:
        parts = [p.strip() for p in answer.split(separator)]
        if parts and not parts[0]:
            parts = parts[1:]
        return parts

    @staticmethod
    def _weight(q: ParsedQuestion, part: str, default: float) -> tuple[float, str]:
        m = _WEIGHT.match(part)
        if not m:
            return default, part
        weight = float(m.group(1)) / 100
        if weight > 1:
            q.errors.append(f"the weight {m.group(1)}% is above 100%")
        return weight, part[m.end():]

    def choice(self, q: ParsedQuestion, body: dict[str, Any], answer: str, fmt: bool | None) -> None:
        single = "=" in answer
        parts = self._parts(answer.replace("=", "~="), "~")
        if len(parts) < 2:
            q.errors.append("a multiple choice question needs at least two answers")
            return
        choices: list[dict[str, Any]] = []
        weights: list[float] = []
        for n, part in enumerate(parts, start=1):
            if part.startswith("="):
                weight, part = 1.0, part[1:]
            else:
                weight, part = self._weight(q, part, 0.0)
            text, _, feedback = part.partition("#")
            choice: dict[str, Any] = {"text": self.text(q, text, fmt, f"answer {n}")}
            fb = self.text(q, feedback, fmt, f"answer {n} feedback")
            if fb:
                choice["feedback"] = fb
            choices.append(choice)
            weights.append(weight)
        if single:
            body["type"] = "single_choice"
            for choice, weight in zip(choices, weights):
                if weight >= 1:
                    choice["correct"] = True
                elif weight > 0:
                    choice["credit"] = round(weight, 6)
                elif weight < 0:
                    q.warnings.append("negative weights are not used by single choice questions: counted as 0")
        else:
            body["type"] = "multiple_response"
            body["scoring"] = "partial"
            right = [w for w in weights if w > 0]
            wrong = [w for w in weights if w <= 0]
            for choice, weight in zip(choices, weights):
                choice["correct"] = weight > 0
            symmetric = right and all(abs(w - 1 / len(right)) < 0.005 for w in right) and (
                all(abs(w + 1 / len(wrong)) < 0.005 for w in wrong)
            )
            if right and not symmetric:
                q.warnings.append(
                    "answer weights replaced by partial scoring (right chosen / right - wrong chosen / wrong)"
                )
        body["choices"] = choices

    def matching(self, q: ParsedQuestion, body: dict[str, Any], answer: str, fmt: bool | None) -> None:
        body["type"] = "matching"
        pairs: list[dict[str, Any]] = []
        distractors: list[dict[str, str]] = []
        for n, part in enumerate(self._parts(answer, "="), start=1):
            if "->" not in part:
                q.errors.append(f"pair {n}: matching pairs are written `=prompt -> answer`")
                return
            prompt, match = part.split("->", 1)
            match_text = self.text(q, match, False, f"pair {n} answer")
            if prompt.strip():
                pairs.append({"prompt": self.text(q, prompt, fmt, f"pair {n}"), "match": match_text})
            else:
                distractors.append(match_text)
        body["pairs"] = pairs
        if distractors:
            body["distractors"] = distractors

    def true_false(self, q: ParsedQuestion, body: dict[str, Any], answer: str, fmt: bool | None) -> None:
        key, wrong, right = ([*answer.split("#", 2), "", ""])[:3]
        correct = key.strip() in ("T", "TRUE")
        wrong_fb = self.text(q, wrong, fmt, "feedback for a wrong answer")
        right_fb = self.text(q, right, fmt, "feedback for a right answer")
        body.update(type="true_false", correct=correct)
        fb_true, fb_false = (right_fb, wrong_fb) if correct else (wrong_fb, right_fb)
        if fb_true:
            body["feedback_true"] = fb_true
        if fb_false:
            body["feedback_false"] = fb_false

    def short_text(self, q: ParsedQuestion, body: dict[str, Any], answer: str, fmt: bool | None) -> None:
        body["type"] = "short_text"
        answers: list[dict[str, Any]] = []
        for n, part in enumerate(self._parts(answer, "="), start=1):
            weight, part = self._weight(q, part, 1.0)
            text, _, feedback = part.partition("#")
            entry = short_answer_entry(q, n, _restore(text).strip(), weight)
            if entry is None:
                continue
            fb = self.text(q, feedback, fmt, f"answer {n} feedback")
            if fb:
                entry["feedback"] = fb
            answers.append(entry)
        body["answers"] = answers

    def numeric(self, q: ParsedQuestion, body: dict[str, Any], answer: str, fmt: bool | None) -> None:
        body["type"] = "numeric"
        if "~" in answer:
            answer = answer[: answer.index("~")]
            q.warnings.append("feedback for wrong numeric answers (~#...) is not imported")
        parts = self._parts(answer, "=")
        if not parts:
            q.errors.append("a numeric question needs an answer, e.g. {#1500:50}")
            return
        answers: list[dict[str, Any]] = []
        for n, part in enumerate(parts, start=1):
            weight, part = self._weight(q, part, 1.0)
            text, _, feedback = part.partition("#")
            value = _restore(text).strip()
            try:
                if ".." in value[1:]:
                    low, high = (float(v) for v in value.split("..", 1))
                    number, tolerance = (low + high) / 2, (high - low) / 2
                elif ":" in value[1:]:
                    number, tolerance = (float(v) for v in value.split(":", 1))
                else:
                    number, tolerance = float(value), 0.0
                if not (math.isfinite(number) and math.isfinite(tolerance)) or tolerance < 0:
                    raise ValueError
            except ValueError:
                q.errors.append(f"answer {n}: {value!r} is not a number, value:tolerance or min..max")
                continue
            if weight <= 0:
                q.warnings.append(f"answer {n} gives no credit and is not imported")
                continue
            entry: dict[str, Any] = {"value": number, "tolerance": tolerance, "credit": round(min(weight, 1.0), 6)}
            fb = self.text(q, feedback, fmt, f"answer {n} feedback")
            if fb:
                entry["feedback"] = fb
            answers.append(entry)
        body["answers"] = answers


def parse(data: bytes, *, default_language: str) -> list[ParsedQuestion]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentUnreadable("A GIFT file must be UTF-8 text.") from None
    text = _PRIVATE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    reader = _Reader(default_language)
    category: str | None = None
    questions: list[ParsedQuestion] = []
    for line, block in _blocks(text):
        comments = [row.strip()[2:] for row in block if row.strip().startswith("//")]
        content = "\n".join(" " if row.strip().startswith("//") else row for row in block).strip()
        if not content:
            continue
        content = _escape_pre(content)
        if content.startswith("$CATEGORY:"):
            category = clean_category(_restore(content[len("$CATEGORY:"):]))
            continue
        if len(questions) >= MAX_QUESTIONS:
            raise DocumentUnreadable(f"A file holds at most {MAX_QUESTIONS} questions.")
        q = ParsedQuestion(index=len(questions) + 1, line=line, category=category)
        tags = [t.replace("\\]", "]").strip() for c in comments for t in _TAG.findall(c)]
        reader.question(q, content)
        if q.body is not None and tags:
            q.body["tags"] = list(dict.fromkeys(t for t in tags if t))
        questions.append(q)
    return questions


# Writing ------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    out = text.replace("\\", "\\\\")
    for ch in "#=~{}:":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\r", "").replace("\n", "\\n")


def _number(value: float) -> str:
    return f"{value:.7f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _texts(body: dict[str, Any]) -> list[str]:
    """Every formatted text of a question (short answers and matches are plain in GIFT)."""
    maps = [body.get("text"), body.get("feedback"), body.get("feedback_true"), body.get("feedback_false")]
    for c in body.get("choices", []):
        maps += [c.get("text"), c.get("feedback")]
    maps += [a.get("feedback") for a in body.get("answers", [])]
    maps += [p.get("prompt") for p in body.get("pairs", [])]
    return [text for m in maps if m for text in m.values()]


class _Writer:
    """One question. Texts with something that reads as HTML are written as [html] (escaped), so
    they come back as written; others in Moodle's default format."""

    def __init__(self, body: dict[str, Any]):
        self.b = body
        self.html = any("<" in text for text in _texts(body))

    def t(self, value: dict[str, str] | None) -> str:
        value = value or {}
        if self.html:
            value = {tag: html.escape(text, quote=False).replace("\n", "<br>") for tag, text in value.items()}
        return _escape(markup.format_text(value))

    def plain(self, value: dict[str, str] | None) -> str:
        return _escape(markup.format_text(value or {}))

    def feedback(self, value: dict[str, str] | None) -> str:
        return f"#{self.t(value)}" if value else ""

    def general(self, indent: str = "\t", newline: str = "\n") -> str:
        return f"{indent}####{self.t(self.b['feedback'])}{newline}" if self.b.get("feedback") else ""

    def head(self) -> str:
        text = self.t(self.b["text"])
        fmt = "[html]" if self.html else "[moodle]" if text.startswith("[") else ""
        return f"::{_escape(self.b['name'])}::{fmt}{text}"

    def lines(self) -> list[str]:
        b, kind = self.b, self.b["type"]
        head = self.head()
        if kind == "single_choice":
            rows = []
            for c in b["choices"]:
                mark = "=" if c["correct"] else (f"~%{_number(c['credit'] * 100)}%" if c.get("credit") else "~")
                rows.append(f"\t{mark}{self.t(c['text'])}{self.feedback(c.get('feedback'))}\n")
            return [head + "{\n" + "".join(rows) + self.general() + "}"]
        if kind == "multiple_response":
            right = sum(1 for c in b["choices"] if c["correct"])
            wrong = len(b["choices"]) - right
            note = ["// all-or-nothing scoring has no GIFT notation: written as partial credit"] if b["scoring"] == "all_or_nothing" else []
            rows = []
            for c in b["choices"]:
                weight = 100 / right if c["correct"] else -100 / wrong
                rows.append(f"\t~%{_number(round(weight, 5))}%{self.t(c['text'])}{self.feedback(c.get('feedback'))}\n")
            return [*note, head + "{\n" + "".join(rows) + self.general() + "}"]
        if kind == "true_false":
            right_fb, wrong_fb = b.get("feedback_true"), b.get("feedback_false")
            if not b["correct"]:
                right_fb, wrong_fb = wrong_fb, right_fb
            tail = ""
            if wrong_fb or right_fb:
                tail = f"#{self.t(wrong_fb)}" + (f"#{self.t(right_fb)}" if right_fb else "")
            return [head + "{" + ("TRUE" if b["correct"] else "FALSE") + tail + self.general("", "") + "}"]
        if kind == "short_text":
            note = []
            if b["case_sensitive"] or b["whitespace"] != "collapse":
                note = ["// case and whitespace rules have no GIFT notation (Moodle ignores case)"]
            rows = [f"\t=%{_number(a['credit'] * 100)}%{_escape(a['text'])}{self.feedback(a.get('feedback'))}\n" for a in b["answers"]]
            return [*note, head + "{\n" + "".join(rows) + self.general() + "}"]
        if kind == "numeric":
            rows = [
                f"\t=%{_number(a['credit'] * 100)}%{_number(a['value'])}:{_number(a['tolerance'])}{self.feedback(a.get('feedback'))}\n"
                for a in b["answers"]
            ]
            return [head + "{#\n" + "".join(rows) + self.general() + "}"]
        if kind == "matching":
            rows = [f"\t={self.t(p['prompt'])} -> {self.plain(p['match'])}\n" for p in b["pairs"]]
            rows += [f"\t= -> {self.plain(d)}\n" for d in b.get("distractors", [])]
            return [head + "{\n" + "".join(rows) + self.general() + "}"]
        if kind == "essay":
            return [head + "{" + self.general("", "") + "}"]
        return []


def write(questions: list[ExportQuestion], *, title: str) -> str:
    out = [f"// Exported from the RMTC learning platform: {' '.join(title.split())}",
           "// Multilingual texts are {mlang xx}...{mlang} blocks (Moodle's multilang2 filter).",
           "// Points and explanations have no GIFT notation; Moodle XML keeps them.", ""]
    category: object = object()
    for q in questions:
        lines = _Writer(q.body).lines()
        if not lines:
            out += [f"// question {q.id} ({q.body['type']}) has no GIFT notation: export the bank as Moodle XML", ""]
            continue
        if q.category != category:
            category = q.category
            out += [f"$CATEGORY: $course$/top/{q.category or 'Default'}", ""]
        head = [f"// question: {q.id} version: {q.version} type: {q.body['type']}"]
        if q.tags:
            head.append("// " + " ".join(f"[tag:{t.replace(']', chr(92) + ']')}]" for t in q.tags))
        out += [*head, *lines, ""]
    return "\n".join(out)
