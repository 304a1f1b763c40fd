"""GIFT and Moodle XML: reading realistic and broken banks, refusing hostile XML, and writing
banks that read back to the same questions."""

from __future__ import annotations

import pytest

from app.assessments import content, gift, markup, moodle_xml
from app.assessments.interchange import DocumentUnreadable, ExportQuestion, clean_category
from tests.assessments.banks import (
    BILLION_LAUGHS,
    GIFT_BANK,
    GIFT_BROKEN,
    MOODLE_XML_BANK,
    MOODLE_XML_BROKEN,
    XXE,
)

pytestmark = pytest.mark.db_independent


def validated(parsed):
    return [content.question_input.validate_python(q.body) for q in parsed if not q.skipped]


def test_gift_bank_reads_every_type_with_languages_weights_feedback_and_categories():
    parsed = gift.parse(GIFT_BANK.encode(), default_language="en")
    assert [q.name for q in parsed] == ["UAC definition", "Indicators of trafficking", "Torture survivors", "EURODAC",
                                        "Registration deadline", "Age range", "Referral", "Intro", "Case of Amira", "Escapes"]
    assert all(not q.errors for q in parsed)
    by_name = {q.name: q for q in parsed}
    uac = by_name["UAC definition"].body
    assert uac["type"] == "single_choice" and uac["category"] == "Vulnerability/Indicators"
    assert uac["text"] == {"en": "Who is an unaccompanied child?", "sr-Latn": "Ko je dete bez pratnje?"}
    assert [c.get("correct", False) for c in uac["choices"]] == [True, False, False]
    assert uac["choices"][1]["credit"] == 0.5 and uac["choices"][1]["feedback"] == {"en": "Nearly: a relative may be responsible."}
    assert uac["feedback"]["sr-Latn"] == "Videti član 2 Direktive o kvalifikaciji."
    assert uac["tags"] == ["vulnerability", "children"]
    traffic = by_name["Indicators of trafficking"].body
    assert traffic["type"] == "multiple_response" and [c["correct"] for c in traffic["choices"]] == [True, True, False]
    assert not by_name["Indicators of trafficking"].warnings  # 50/50/-100 is exactly our partial rule
    torture = by_name["Torture survivors"].body
    assert torture["correct"] is True and torture["feedback_true"] == {"en": "Right: document it early."}
    assert torture["text"]["sr-Latn"].startswith("Medicinski dokazi")  # Moodle-escaped \{mlang\} blocks
    eurodac = by_name["EURODAC"].body
    assert eurodac["text"]["en"].endswith("is called _____.")  # missing-word format
    assert eurodac["answers"] == [{"text": "EURODAC", "credit": 1.0},
                                  {"text": "Eurodac database", "credit": 0.5, "feedback": {"en": "Almost: just the name."}}]
    assert by_name["Registration deadline"].body["answers"][0] | {"feedback": None} == {"value": 6.0, "tolerance": 0.0, "credit": 1.0, "feedback": None}
    assert by_name["Age range"].body["answers"] == [{"value": 18.0, "tolerance": 0.5, "credit": 1.0}]
    referral = by_name["Referral"].body
    assert referral["category"] == "Vulnerability/Referral" and len(referral["pairs"]) == 3
    assert referral["distractors"] == [{"en": "Border police"}]
    assert by_name["Intro"].skipped and by_name["Intro"].body is None
    assert by_name["Case of Amira"].body["type"] == "essay"
    escapes = by_name["Escapes"].body
    assert escapes["text"]["en"] == "Which article says: fifty percent = half: {sic}?"
    assert [a["text"] for a in escapes["answers"]] == ["Art 5 #1", "Article 5"]
    assert len(validated(parsed)) == 9  # every question passes the API's own validation


def test_gift_errors_name_the_question_and_its_line():
    parsed = gift.parse(GIFT_BROKEN.encode(), default_language="en")
    errors = {q.line: q.errors for q in parsed}
    assert errors[1] == []
    assert "braces do not match" in errors[3][0]
    assert "at least two answers" in errors[5][0]
    assert "150% is above 100%" in errors[7][0]
    assert "'many' is not a number" in errors[9][0]
    assert "wildcards" in errors[11][0]
    assert "'xx_yy_zz' is not a language code" in errors[13][0]


def test_gift_that_is_not_utf8_is_unreadable():
    with pytest.raises(DocumentUnreadable):
        gift.parse("::Q::Čest {T}".encode("cp1250"), default_language="en")


def test_moodle_xml_bank_reads_every_supported_type():
    parsed = moodle_xml.parse(MOODLE_XML_BANK.encode(), default_language="en")
    by_name = {q.name: q for q in parsed}
    special = by_name["Special procedural guarantees"].body
    assert special["category"] == "Default for Asylum/Vulnerability"
    assert special["text"] == {"en": "Who needs special procedural guarantees?", "sr-Latn": "Kome su potrebne posebne procesne garancije?"}
    assert special["points"] == 2.0 and special["tags"] == ["vulnerability", "APD"]
    assert special["choices"][0] == {"text": {"en": "A survivor of torture"}, "feedback": {"en": "Yes."}, "correct": True}
    assert by_name["Trafficking indicators (all or nothing)"].body["scoring"] == "all_or_nothing"
    assert by_name["Age assessment"].body["correct"] is False
    database = by_name["Database"]
    assert database.body["case_sensitive"] is True and [a["text"] for a in database.body["answers"]] == ["EURODAC", "Eurodac"]
    assert any("catch-all" in w for w in database.warnings)
    assert any("units" in w for w in by_name["Days"].warnings)
    assert by_name["Referral"].body["distractors"] == [{"en": "Detention"}]
    steps = by_name["Procedure steps"].body
    assert [i["en"] for i in steps["items"]] == ["Making the application", "Registration", "Personal interview", "Decision"]
    essay = by_name["Interview plan"]
    assert essay.body["max_words"] == 400 and essay.body["grader_info"] == {"en": "Look for a trauma-informed approach."}
    assert any("image" in w for w in essay.warnings) and any("PLUGINFILE" in w for w in essay.warnings)
    assert by_name["Read this"].skipped
    assert len(validated(parsed)) == 8


def test_moodle_xml_refusals_per_question():
    parsed = moodle_xml.parse(MOODLE_XML_BROKEN.encode(), default_language="en")
    assert parsed[0].errors == []  # parses, but the API's validation refuses it (no correct choice)
    with pytest.raises(Exception, match="at least one choice correct"):
        content.question_input.validate_python(parsed[0].body)
    assert parsed[1].errors == ["calculated questions (calculated) are not supported"]
    assert parsed[2].errors == []
    assert "fraction 'abc' is not a number" in parsed[3].errors[0]


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_hostile_xml_is_refused_before_anything_is_expanded_or_fetched(document):
    with pytest.raises(DocumentUnreadable, match="DTD"):
        moodle_xml.parse(document.encode(), default_language="en")


@pytest.mark.parametrize("document", [b"", b"not xml", b"<quiz><question>", b"<questions/>", "<quiz>\u0000</quiz>".encode()])
def test_malformed_xml_is_unreadable(document):
    with pytest.raises(DocumentUnreadable):
        moodle_xml.parse(document, default_language="en")


def test_category_paths_from_moodle():
    assert clean_category("$course$/top/Default for Asylum/Vulnerable persons") == "Default for Asylum/Vulnerable persons"
    assert clean_category("$system$/top") is None
    assert clean_category("top/A//B/  C  ") == "A-B/C"


def test_language_codes_between_moodle_and_bcp47():
    assert markup.language_tag("sr_lt") == "sr-Latn" and markup.moodle_code("sr-Latn") == "sr_lt"
    assert markup.language_tag("sr_cr") == "sr-Cyrl" and markup.language_tag("pt_br") == "pt-BR"
    assert markup.moodle_code("mk") == "mk"
    parsed = markup.parse_text("{mlang en}Hello {mlang}{mlang other}Zdravo {mlang}world", default_language="sr-Latn")
    assert parsed.value == {"en": "Hello world", "sr-Latn": "Zdravo world"}


# Round trips ---------------------------------------------------------------------------------

QUESTIONS = [
    {"type": "single_choice", "name": "UAC", "text": {"en": "Who is <an> unaccompanied child & why?\nExplain.", "sr-Latn": "Ko je dete bez pratnje?"},
     "choices": [{"text": {"en": "Under 18, alone", "sr-Latn": "Mlađe od 18, samo"}, "correct": True, "feedback": {"en": "Yes: #1 = right"}},
                 {"text": {"en": "Under 18 with an aunt"}, "credit": 0.25}, {"text": {"en": "{Anyone}: ~21~"}}],
     "feedback": {"en": "General: see the Directive.", "sr-Latn": "Opšte: videti Direktivu."}, "points": 2.5},
    {"type": "multiple_response", "name": "Indicators", "text": {"en": "Indicators?"},
     "choices": [{"text": {"en": t}, "correct": t != "visa"} for t in ("documents", "debt", "visa")]},
    {"type": "true_false", "name": "TF", "text": {"en": "Detention of children is a last resort."}, "correct": True,
     "feedback_true": {"en": "Right"}, "feedback_false": {"en": "Wrong"}},
    {"type": "true_false", "name": "TF2", "text": {"en": "False one"}, "correct": False},
    {"type": "short_text", "name": "Database", "text": {"en": "Database?"}, "answers": [{"text": "EURODAC"}, {"text": "Euro dac", "credit": 0.5}]},
    {"type": "numeric", "name": "Days", "text": {"en": "Days?"}, "answers": [{"value": 3, "tolerance": 0.5, "feedback": {"en": "Three"}},
                                                                          {"value": 6, "credit": 0.5}]},
    {"type": "matching", "name": "Referral", "text": {"en": "Match"},
     "pairs": [{"prompt": {"en": "Torture", "sr-Latn": "Mučenje"}, "match": {"en": "Medical care"}},
               {"prompt": {"en": "Trafficking"}, "match": {"en": "NRM"}}], "distractors": [{"en": "Detention"}]},
    {"type": "essay", "name": "Plan", "text": {"en": "Plan the interview."}, "feedback": {"en": "Trauma-informed."}},
]
XML_ONLY = [
    {"type": "ordering", "name": "Steps", "text": {"en": "Order"}, "items": [{"en": "Make"}, {"en": "Register"}, {"en": "Lodge"}],
     "scoring": "all_or_nothing", "explanation": {"en": "APR Articles 26-28"}},
    {"type": "multiple_response", "name": "AON", "scoring": "all_or_nothing", "text": {"en": "All?"},
     "choices": [{"text": {"en": "a"}, "correct": True}, {"text": {"en": "b"}}], "shuffle": False},
    {"type": "short_text", "name": "Exact", "text": {"en": "Case?"}, "case_sensitive": True, "whitespace": "exact",
     "answers": [{"text": "ECHR"}]},
    {"type": "matching", "name": "AON match", "text": {"en": "M"}, "scoring": "all_or_nothing",
     "pairs": [{"prompt": {"en": "a"}, "match": {"en": "1"}}, {"prompt": {"en": "b"}, "match": {"en": "2"}}]},
    {"type": "essay", "name": "Limits", "text": {"en": "Write"}, "min_words": 10, "max_words": 300, "grader_info": {"en": "Key points"}},
]


def _export(bodies: list[dict], category: str = "Vulnerability/Cases", tags=("vulnerability", "pre-test")) -> list[ExportQuestion]:
    out = []
    for n, raw in enumerate(bodies):
        model = content.question_input.validate_python(raw)
        data = content.stored_data(model)
        body = content.to_input(model.type, data, name=model.name, text=model.text, feedback=model.feedback,
                                explanation=model.explanation, points=model.points)
        out.append(ExportQuestion(id=f"q{n}", version=1, category=category, tags=list(tags), body=body))
    return out


def _normal(body: dict) -> dict:
    return content.question_input.validate_python(body).model_dump(mode="json")


@pytest.mark.parametrize("module, bodies, lossless", [
    (gift, QUESTIONS, {"explanation", "points"}),
    (moodle_xml, QUESTIONS + XML_ONLY, set()),
], ids=["gift", "moodle_xml"])
def test_export_reads_back_to_the_same_questions(module, bodies, lossless):
    text = module.write(_export(bodies), title="Vulnerable persons -- a bank")
    parsed = module.parse(text.encode(), default_language="en")
    assert [q.errors for q in parsed] == [[] for _ in bodies]
    for original, q in zip(bodies, parsed):
        expected = _normal({**original, "category": "Vulnerability/Cases", "tags": ["vulnerability", "pre-test"]})
        got = _normal(q.body)
        for field in lossless:  # what the format cannot carry
            expected.pop(field), got.pop(field)
        assert got == expected, original["name"]


def test_gift_marks_what_it_cannot_write():
    text = gift.write(_export(XML_ONLY), title="x")
    assert "has no GIFT notation: export the bank as Moodle XML" in text  # ordering
    assert "all-or-nothing scoring has no GIFT notation" in text
    assert "case and whitespace rules have no GIFT notation" in text
    parsed = gift.parse(text.encode(), default_language="en")
    assert [q.name for q in parsed] == ["AON", "Exact", "AON match", "Limits"]


def test_exported_xml_is_plain_moodle_xml_with_multilang_blocks():
    text = moodle_xml.write(_export(QUESTIONS[:1]), title="t")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')
    assert "<text>$course$/top/Vulnerability/Cases</text>" in text
    assert "{mlang en}Who is &amp;lt;an&amp;gt; unaccompanied child &amp;amp; why?&lt;br&gt;Explain.{mlang}{mlang sr_lt}" in text
    assert '<answer fraction="25" format="html">' in text and "<defaultgrade>2.5000000</defaultgrade>" in text
