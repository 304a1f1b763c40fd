"""Moodle XML question files: reading a bank file into question bodies, and writing one.

The file is parsed with defusedxml and any DTD is refused, so entity expansion (billion laughs),
external entities (XXE) and external DTDs never run; such a file is refused as a whole.

Types read: multichoice (single or multiple response), multichoiceset (all-or-nothing multiple
response), truefalse, shortanswer, numerical, matching, ordering (the qtype_ordering plugin) and
essay; `category` entries switch category; descriptions are skipped; other types are refused per
question. Texts become language maps (multilang markup), HTML is reduced to text, `<tags>` become
tags. Writing produces the same types, plus two elements Moodle ignores and this importer reads
back: `<explanation>` and `<whitespacerule>`.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml
from defusedxml import ElementTree as SafeET

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

_FORMATS = {"html": True, "moodle_auto_format": None, "plain_text": False, "markdown": False}
_UNSUPPORTED = {
    "multianswer": "embedded answers (Cloze)",
    "calculated": "calculated",
    "calculatedsimple": "simple calculated",
    "calculatedmulti": "calculated multichoice",
    "ddwtos": "drag and drop into text",
    "ddimageortext": "drag and drop onto image",
    "ddmarker": "drag and drop markers",
    "gapselect": "select missing words",
    "randomsamatch": "random short-answer matching",
    "random": "random",
}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _number(value: str | None, default: float | None = None) -> float | None:
    try:
        return float((value or "").strip())
    except ValueError:
        return default


class _Reader:
    def __init__(self, default_language: str):
        self.language = default_language

    def text(self, q: ParsedQuestion, element: ET.Element | None, what: str, default_format: str = "html") -> dict[str, str]:
        if element is None:
            return {}
        fmt = _FORMATS.get((element.get("format") or default_format).lower(), True)
        raw = element.findtext("text") or ""
        if element.find("file") is not None:
            q.warnings.append(f"{what}: embedded files are not imported")
        parsed = markup.parse_text(raw, default_language=self.language, is_html=fmt, what=what)
        q.warnings.extend(parsed.warnings)
        q.errors.extend(parsed.errors)
        return parsed.value

    def question(self, q: ParsedQuestion, el: ET.Element, qtype: str) -> None:
        q.name = clean_name(el.findtext("name/text") or "")
        body: dict[str, Any] = {"text": self.text(q, el.find("questiontext"), "text")}
        if q.name:
            body["name"] = q.name
        if q.category:
            body["category"] = q.category
        feedback = self.text(q, el.find("generalfeedback"), "general feedback")
        if feedback:
            body["feedback"] = feedback
        explanation = self.text(q, el.find("explanation"), "explanation")
        if explanation:
            body["explanation"] = explanation
        points = _number(el.findtext("defaultgrade"), 1.0)
        if points is not None and points > 0:
            body["points"] = points
        elif points is not None:
            q.warnings.append("a question without points (defaultgrade 0) gets 1 point")
        tags = [" ".join((t.findtext("text") or "").split()) for t in el.findall("tags/tag")]
        if any(tags):
            body["tags"] = list(dict.fromkeys(t for t in tags if t))
        getattr(self, qtype)(q, body, el)
        q.body = body

    def _answers(self, q: ParsedQuestion, el: ET.Element) -> list[tuple[float, ET.Element]]:
        out = []
        for n, answer in enumerate(el.findall("answer"), start=1):
            fraction = _number(answer.get("fraction"), None)
            if fraction is None:
                q.errors.append(f"answer {n}: the fraction {answer.get('fraction')!r} is not a number")
                fraction = 0.0
            out.append((fraction / 100, answer))
        return out

    def _choices(self, q: ParsedQuestion, el: ET.Element) -> list[tuple[float, dict[str, Any]]]:
        choices = []
        for n, (weight, answer) in enumerate(self._answers(q, el), start=1):
            choice: dict[str, Any] = {"text": self.text(q, answer, f"answer {n}", "moodle_auto_format")}
            fb = self.text(q, answer.find("feedback"), f"answer {n} feedback")
            if fb:
                choice["feedback"] = fb
            if weight > 1:
                q.errors.append(f"answer {n}: the fraction is above 100%")
            choices.append((weight, choice))
        return choices

    def multichoice(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        choices = self._choices(q, el)
        body["shuffle"] = _truthy(el.findtext("shuffleanswers") or "1")
        if _truthy(el.findtext("single") or "true"):
            body["type"] = "single_choice"
            for weight, choice in choices:
                if weight >= 1:
                    choice["correct"] = True
                elif weight > 0:
                    choice["credit"] = round(weight, 6)
                elif weight < 0:
                    q.warnings.append("negative fractions are not used by single choice questions: counted as 0")
        else:
            body.update(type="multiple_response", scoring="partial")
            right = [w for w, _ in choices if w > 0]
            wrong = [w for w, _ in choices if w <= 0]
            symmetric = right and all(abs(w - 1 / len(right)) < 0.005 for w in right) and all(
                abs(w + 1 / len(wrong)) < 0.005 for w in wrong
            )
            if right and not symmetric:
                q.warnings.append("answer fractions replaced by partial scoring (right chosen / right - wrong chosen / wrong)")
            for weight, choice in choices:
                choice["correct"] = weight > 0
        body["choices"] = [c for _, c in choices]

    def multichoiceset(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        choices = self._choices(q, el)
        for weight, choice in choices:
            choice["correct"] = weight > 0
        body.update(type="multiple_response", scoring="all_or_nothing", choices=[c for _, c in choices],
                    shuffle=_truthy(el.findtext("shuffleanswers") or "1"))

    def truefalse(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        body["type"] = "true_false"
        found: dict[bool, tuple[float, ET.Element]] = {}
        for weight, answer in self._answers(q, el):
            value = (answer.findtext("text") or "").strip().lower()
            if value in ("true", "false"):
                found[value == "true"] = (weight, answer)
        if set(found) != {True, False}:
            q.errors.append("a true/false question has a `true` and a `false` answer")
            return
        body["correct"] = found[True][0] >= found[False][0]
        for value, key in ((True, "feedback_true"), (False, "feedback_false")):
            fb = self.text(q, found[value][1].find("feedback"), f"feedback for {str(value).lower()}")
            if fb:
                body[key] = fb

    def shortanswer(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        body.update(type="short_text", case_sensitive=_truthy(el.findtext("usecase")))
        rule = (el.findtext("whitespacerule") or "").strip()
        if rule in ("collapse", "ignore", "exact"):
            body["whitespace"] = rule
        answers = []
        for n, (weight, answer) in enumerate(self._answers(q, el), start=1):
            value = markup.html_to_text(answer.findtext("text") or "")[0] if answer.get("format") == "html" else (answer.findtext("text") or "").strip()
            entry = short_answer_entry(q, n, value, weight)
            if entry is None:
                continue
            fb = self.text(q, answer.find("feedback"), f"answer {n} feedback")
            if fb:
                entry["feedback"] = fb
            answers.append(entry)
        body["answers"] = answers

    def numerical(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        body["type"] = "numeric"
        if el.find("units/unit") is not None:
            q.warnings.append("units are not imported: learners answer with the number only")
        answers = []
        for n, (weight, answer) in enumerate(self._answers(q, el), start=1):
            raw = (answer.findtext("text") or "").strip()
            if raw == "*":
                q.warnings.append("feedback for any other answer (*) is not imported")
                continue
            value = _number(raw)
            tolerance = _number(answer.findtext("tolerance") or "0")
            if value is None or tolerance is None:
                q.errors.append(f"answer {n}: {raw!r} with tolerance {answer.findtext('tolerance')!r} is not a number")
                continue
            if weight <= 0:
                q.warnings.append(f"answer {n} gives no credit and is not imported")
                continue
            entry: dict[str, Any] = {"value": value, "tolerance": abs(tolerance), "credit": round(min(weight, 1.0), 6)}
            fb = self.text(q, answer.find("feedback"), f"answer {n} feedback")
            if fb:
                entry["feedback"] = fb
            answers.append(entry)
        body["answers"] = answers

    def matching(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        body["type"] = "matching"
        if (el.findtext("scoring") or "").strip() == "all_or_nothing":
            body["scoring"] = "all_or_nothing"
        pairs, distractors = [], []
        for n, sub in enumerate(el.findall("subquestion"), start=1):
            prompt = self.text(q, sub, f"pair {n}")
            match = markup.parse_text((sub.findtext("answer/text") or "").strip(), default_language=self.language,
                                      is_html=False, what=f"pair {n} answer")
            q.errors.extend(match.errors)
            if not match.value:
                q.errors.append(f"pair {n} has no answer")
                continue
            if prompt:
                pairs.append({"prompt": prompt, "match": match.value})
            else:
                distractors.append(match.value)
        body["pairs"] = pairs
        if distractors:
            body["distractors"] = distractors

    match = matching  # Moodle's type name is "match"

    def ordering(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        grading = (el.findtext("gradingtype") or "").strip().upper()
        body.update(type="ordering", scoring="all_or_nothing" if grading == "ALL_OR_NOTHING" else "partial")
        if grading not in ("", "ALL_OR_NOTHING", "LONGEST_ORDERED_SUBSET"):
            q.warnings.append(f"grading type {grading} replaced by the longest ordered subset rule")
        answers = el.findall("answer")
        ranked = sorted(enumerate(answers), key=lambda pair: (_number(pair[1].get("fraction"), pair[0]), pair[0]))
        body["items"] = [self.text(q, a, f"item {n}", "moodle_auto_format") for n, (_, a) in enumerate(ranked, start=1)]

    def essay(self, q: ParsedQuestion, body: dict[str, Any], el: ET.Element) -> None:
        body["type"] = "essay"
        for source, target in (("minwordlimit", "min_words"), ("maxwordlimit", "max_words")):
            value = _number(el.findtext(source))
            if value and value > 0:
                body[target] = int(value)
        info = self.text(q, el.find("graderinfo"), "grader information")
        if info:
            body["grader_info"] = info


def parse(data: bytes, *, default_language: str) -> list[ParsedQuestion]:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden) as exc:
        raise DocumentUnreadable(f"The XML declares a DTD or entities, which are refused: {type(exc).__name__}.") from None
    except (ET.ParseError, ValueError, defusedxml.DefusedXmlException) as exc:
        raise DocumentUnreadable(f"The file is not well-formed XML: {exc}") from None
    if root.tag != "quiz":
        raise DocumentUnreadable(f"A Moodle XML file has a <quiz> root element, not <{root.tag}>.")
    reader = _Reader(default_language)
    category: str | None = None
    questions: list[ParsedQuestion] = []
    for el in root.findall("question"):
        qtype = (el.get("type") or "").strip().lower()
        if qtype == "category":
            category = clean_category(el.findtext("category/text") or "")
            continue
        if len(questions) >= MAX_QUESTIONS:
            raise DocumentUnreadable(f"A file holds at most {MAX_QUESTIONS} questions.")
        q = ParsedQuestion(index=len(questions) + 1, category=category, name=clean_name(el.findtext("name/text") or ""))
        questions.append(q)
        if qtype == "description":
            q.skipped = "a description is not a question"
        elif qtype in _UNSUPPORTED:
            q.errors.append(f"{_UNSUPPORTED[qtype]} questions ({qtype}) are not supported")
        elif qtype not in ("multichoice", "multichoiceset", "truefalse", "shortanswer", "numerical", "matching", "match",
                           "ordering", "essay"):
            q.errors.append(f"the question type {qtype!r} is not supported")
        else:
            reader.question(q, el, qtype)
    return questions


# Writing ------------------------------------------------------------------------------------


def _html(value: dict[str, str] | None) -> str:
    return markup.format_text({tag: html.escape(text, quote=False).replace("\n", "<br>") for tag, text in (value or {}).items()})


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _text_el(parent: ET.Element, tag: str, value: dict[str, str] | None, *, fmt: str = "html") -> ET.Element:
    element = _sub(parent, tag, format=fmt)
    _sub(element, "text", _html(value) if fmt == "html" else markup.format_text(value or {}))
    return element


def _fraction(value: float) -> str:
    return f"{value * 100:.7f}".rstrip("0").rstrip(".")


def _answer(parent: ET.Element, fraction: float, text: str, feedback: dict[str, str] | None, *, fmt: str) -> ET.Element:
    answer = _sub(parent, "answer", fraction=_fraction(fraction), format=fmt)
    _sub(answer, "text", text)
    _text_el(answer, "feedback", feedback)
    return answer


_TYPES = {"single_choice": "multichoice", "true_false": "truefalse", "short_text": "shortanswer", "numeric": "numerical",
          "matching": "matching", "ordering": "ordering", "essay": "essay"}


def _question(root: ET.Element, q: ExportQuestion) -> None:
    b = q.body
    kind = b["type"]
    qtype = ("multichoiceset" if b["scoring"] == "all_or_nothing" else "multichoice") if kind == "multiple_response" else _TYPES[kind]
    root.append(ET.Comment(f" question: {q.id} version: {q.version} "))
    el = _sub(root, "question", type=qtype)
    _sub(_sub(el, "name"), "text", b["name"])
    _text_el(el, "questiontext", b["text"])
    _text_el(el, "generalfeedback", b.get("feedback"))
    _sub(el, "defaultgrade", f"{b['points']:.7f}")
    _sub(el, "penalty", "0")
    _sub(el, "hidden", "0")
    _sub(el, "idnumber", "")
    if kind in ("single_choice", "multiple_response"):
        _sub(el, "single", "true" if kind == "single_choice" else "false")
        _sub(el, "shuffleanswers", "true" if b.get("shuffle", True) else "false")
        _sub(el, "answernumbering", "abc")
        right = sum(1 for c in b["choices"] if c["correct"])
        wrong = len(b["choices"]) - right
        for c in b["choices"]:
            if kind == "single_choice":
                fraction = 1.0 if c["correct"] else c.get("credit", 0.0)
            elif b["scoring"] == "all_or_nothing":
                fraction = 1 / right if c["correct"] else 0.0
            else:
                fraction = 1 / right if c["correct"] else -1 / wrong
            _answer(el, fraction, _html(c["text"]), c.get("feedback"), fmt="html")
    elif kind == "true_false":
        for value, key in ((True, "feedback_true"), (False, "feedback_false")):
            _answer(el, 1.0 if b["correct"] is value else 0.0, str(value).lower(), b.get(key), fmt="moodle_auto_format")
    elif kind == "short_text":
        _sub(el, "usecase", "1" if b["case_sensitive"] else "0")
        _sub(el, "whitespacerule", b["whitespace"])
        for a in b["answers"]:
            _answer(el, a["credit"], a["text"], a.get("feedback"), fmt="moodle_auto_format")
    elif kind == "numeric":
        for a in b["answers"]:
            answer = _answer(el, a["credit"], repr(float(a["value"])), a.get("feedback"), fmt="moodle_auto_format")
            _sub(answer, "tolerance", repr(float(a["tolerance"])))
        for tag, text in (("unitgradingtype", "0"), ("unitpenalty", "0.1000000"), ("showunits", "3"), ("unitsleft", "0")):
            _sub(el, tag, text)
    elif kind == "matching":
        _sub(el, "shuffleanswers", "true")
        if b["scoring"] != "partial":
            _sub(el, "scoring", b["scoring"])
        for prompt, match in [(p["prompt"], p["match"]) for p in b["pairs"]] + [({}, d) for d in b.get("distractors", [])]:
            sub = _text_el(el, "subquestion", prompt)
            _sub(_sub(sub, "answer"), "text", markup.format_text(match))
    elif kind == "ordering":
        for tag, text in (("layouttype", "VERTICAL"), ("selecttype", "ALL"), ("selectcount", "0"),
                          ("gradingtype", "ALL_OR_NOTHING" if b["scoring"] == "all_or_nothing" else "LONGEST_ORDERED_SUBSET"),
                          ("showgrading", "SHOW"), ("numberingstyle", "none")):
            _sub(el, tag, text)
        for position, item in enumerate(b["items"], start=1):
            answer = _sub(el, "answer", fraction=f"{position}.0000000", format="html")
            _sub(answer, "text", _html(item))
    else:
        for tag, text in (("responseformat", "editor"), ("responserequired", "1"), ("responsefieldlines", "15"),
                          ("attachments", "0"), ("attachmentsrequired", "0")):
            _sub(el, tag, text)
        if b.get("min_words"):
            _sub(el, "minwordlimit", str(b["min_words"]))
        if b.get("max_words"):
            _sub(el, "maxwordlimit", str(b["max_words"]))
        _text_el(el, "graderinfo", b.get("grader_info"))
        _text_el(el, "responsetemplate", {})
    if b.get("explanation"):
        _text_el(el, "explanation", b["explanation"])
    if q.tags:
        tags = _sub(el, "tags")
        for tag in q.tags:
            _sub(_sub(tags, "tag"), "text", tag)


def write(questions: list[ExportQuestion], *, title: str) -> str:
    root = ET.Element("quiz")
    root.append(ET.Comment(f" Exported from the RMTC learning platform: {' '.join(title.split()).replace('--', '- -')} "))
    category: object = object()
    for q in questions:
        if q.category != category:
            category = q.category
            cat = _sub(root, "question", type="category")
            _sub(_sub(cat, "category"), "text", f"$course$/top/{q.category or 'Default'}")
        _question(root, q)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
