"""GIFT and Moodle XML import and export through the API: per-question reports, all or nothing,
hostile files refused, and exports that import back to the same bank."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.assessments.models import Question, QuestionCategory
from app.users.models import Role
from tests.assessments import helpers as h
from tests.assessments.banks import (
    BILLION_LAUGHS,
    GIFT_BANK,
    GIFT_BROKEN,
    MOODLE_XML_BANK,
    MOODLE_XML_BROKEN,
    XXE,
)

TEXT = {"Content-Type": "text/plain"}
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def setup(client, factory):
    _, ih = factory.signed_in(Role.instructor, "SE")
    bank = h.bank(client, ih, thematic_area="vulnerable-migrants")
    return ih, bank


def _stored(db) -> tuple[int, int]:
    return db.scalar(select(func.count()).select_from(Question)), db.scalar(select(func.count()).select_from(QuestionCategory))


def test_gift_bank_imports_with_a_report_per_question(client, setup, db):
    ih, bank = setup
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", params={"format": "gift"}, content=GIFT_BANK.encode(),
                    headers={**ih, **TEXT})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["refused"], report["skipped"]) == (9, 0, 1)
    assert report["categories_created"] == ["Vulnerability/Indicators", "Vulnerability/Referral"]
    rows = {row["name"]: row for row in report["questions"]}
    assert rows["Intro"]["status"] == "skipped" and "description" in rows["Intro"]["warnings"][0]
    assert rows["UAC definition"] | {"question_id": None} == {
        "index": 1, "line": 6, "name": "UAC definition", "type": "single_choice", "category": "Vulnerability/Indicators",
        "status": "imported", "question_id": None, "errors": [], "warnings": []}
    uac = client.get(f"/api/v1/questions/{rows['UAC definition']['question_id']}", headers=ih).json()
    assert uac["text"] == {"en": "Who is an unaccompanied child?", "sr-Latn": "Ko je dete bez pratnje?"}
    assert uac["tags"] == ["children", "vulnerability"] and uac["category"] == "Vulnerability/Indicators"
    assert [c["credit"] for c in uac["data"]["choices"]] == [1.0, 0.5, 0.0]
    assert _stored(db) == (9, 3)  # "Vulnerability" is created as the parent


def test_a_refused_question_refuses_the_whole_file(client, setup, db):
    ih, bank = setup
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", content=GIFT_BROKEN.encode(), headers={**ih, **TEXT})
    assert r.status_code == 422
    problem = r.json()
    assert problem["detail"] == "6 of 7 questions are refused; nothing was imported."
    rows = problem["report"]["questions"]
    assert [(row["line"], row["status"]) for row in rows] == [
        (1, "valid"), (3, "refused"), (5, "refused"), (7, "refused"), (9, "refused"), (11, "refused"), (13, "refused")]
    assert "150% is above 100%" in rows[3]["errors"][0]
    assert {e["loc"][1] for e in problem["errors"]} == {f"question {n}" for n in range(2, 8)}
    assert _stored(db) == (0, 0)


def test_questions_that_parse_but_break_the_rules_are_refused_too(client, setup, db):
    ih, bank = setup
    body = "::Q1::Fine {T}\n\n::Q2::Two correct and a weight {=a =b ~%50%c}\n\n::Q3::{=only one match -> x}\n"
    report = client.post(f"/api/v1/question-banks/{bank['id']}/import", content=body.encode(), headers={**ih, **TEXT}).json()
    assert [row["status"] for row in report["report"]["questions"]] == ["valid", "valid", "refused"]
    assert report["report"]["questions"][2]["errors"] == [
        "text: at least one language is required", "pairs: List should have at least 2 items after validation, not 1"]
    assert _stored(db) == (0, 0)


def test_dry_run_reports_without_storing(client, setup, db):
    ih, bank = setup
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", params={"dry_run": "true"}, content=GIFT_BANK.encode(),
                    headers={**ih, **TEXT})
    assert r.status_code == 200
    assert {row["status"] for row in r.json()["questions"]} == {"valid", "skipped"} and r.json()["imported"] == 0
    assert _stored(db) == (0, 0)


def test_moodle_xml_bank_imports_with_warnings(client, setup):
    ih, bank = setup
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", params={"language": "en"},
                    content=MOODLE_XML_BANK.encode(), headers={**ih, **XML})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["format"] == "moodle_xml" and (report["imported"], report["skipped"]) == (8, 1)
    rows = {row["name"]: row for row in report["questions"]}
    assert rows["Days"]["warnings"] == ["units are not imported: learners answer with the number only"]
    steps = client.get(f"/api/v1/questions/{rows['Procedure steps']['question_id']}", headers=ih).json()
    assert [i["text"]["en"] for i in steps["data"]["items"]] == ["Making the application", "Registration", "Personal interview", "Decision"]
    special = client.get(f"/api/v1/questions/{rows['Special procedural guarantees']['question_id']}", headers=ih).json()
    assert special["points"] == 2.0 and special["text"]["sr-Latn"] == "Kome su potrebne posebne procesne garancije?"


def test_moodle_xml_refusals_are_reported_per_question(client, setup, db):
    ih, bank = setup
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", content=MOODLE_XML_BROKEN.encode(), headers={**ih, **XML})
    assert r.status_code == 422
    rows = r.json()["report"]["questions"]
    assert [row["status"] for row in rows] == ["refused", "refused", "valid", "refused"]
    assert rows[0]["errors"] == ["mark at least one choice correct"]
    assert rows[1]["errors"] == ["calculated questions (calculated) are not supported"]
    assert _stored(db) == (0, 0)


@pytest.mark.parametrize("body, headers", [
    (BILLION_LAUGHS.encode(), XML),
    (XXE.encode(), XML),
    (b"<quiz><question type='truefalse'>", XML),
    ("::Q::Čest {T}".encode("cp1250"), TEXT),
    (b"", TEXT),
])
def test_unreadable_or_hostile_files_are_refused_whole(client, setup, db, body, headers):
    ih, bank = setup
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", content=body, headers={**ih, **headers})
    assert r.status_code in (400, 422), r.text
    assert _stored(db) == (0, 0)


def test_import_needs_a_text_or_xml_body_and_a_bank_in_scope(client, factory, setup):
    ih, bank = setup
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", content=b"x", headers={**ih, "Content-Type": "image/png"})
    assert r.status_code == 415
    _, lh = factory.signed_in(Role.learner, "RS")
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", content=GIFT_BANK.encode(), headers={**lh, **TEXT})
    assert r.status_code == 404
    r = client.post(f"/api/v1/question-banks/{bank['id']}/import", params={"language": "not a tag"}, content=b"::Q::x {T}",
                    headers={**ih, **TEXT})
    assert r.status_code == 422


def _content(client, headers, bank_id):
    """The bank's questions, ignoring ids (which every version gets anew)."""
    items = client.get(f"/api/v1/question-banks/{bank_id}/questions", headers=headers).json()["items"]

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("id", "key")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    keep = ("type", "name", "category", "tags", "points", "text", "feedback", "explanation", "data")
    return sorted((strip({k: q[k] for k in keep}) for q in items), key=lambda q: q["name"])


@pytest.mark.parametrize("fmt, media", [("moodle_xml", XML), ("gift", TEXT)])
def test_export_then_import_gives_the_same_bank(client, setup, fmt, media):
    ih, bank = setup
    source = MOODLE_XML_BANK if fmt == "moodle_xml" else GIFT_BANK
    assert client.post(f"/api/v1/question-banks/{bank['id']}/import", content=source.encode(), headers={**ih, **media}).status_code == 200
    exported = client.get(f"/api/v1/question-banks/{bank['id']}/export", params={"format": fmt}, headers=ih)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/xml" if fmt == "moodle_xml" else "text/plain")
    assert "attachment" in exported.headers["content-disposition"]
    copy = h.bank(client, ih, thematic_area="asylum")
    again = client.post(f"/api/v1/question-banks/{copy['id']}/import", params={"format": fmt}, content=exported.content,
                        headers={**ih, **media})
    assert again.status_code == 200, again.text
    assert again.json()["skipped"] == 0
    assert _content(client, ih, copy["id"]) == _content(client, ih, bank["id"])


def test_export_of_one_category(client, setup):
    ih, bank = setup
    client.post(f"/api/v1/question-banks/{bank['id']}/import", content=GIFT_BANK.encode(), headers={**ih, **TEXT})
    category = next(c for c in client.get(f"/api/v1/question-banks/{bank['id']}", headers=ih).json()["categories"]
                    if c["path"] == "Vulnerability/Referral")
    text = client.get(f"/api/v1/question-banks/{bank['id']}/export", params={"category_id": category["id"]}, headers=ih).text
    assert "::Referral::" in text and "::Case of Amira::" in text and "UAC definition" not in text
