"""Question banks, categories, versioned questions: authoring through the API, and who sees what."""

from __future__ import annotations

import pytest

from app.users.models import Role
from tests.assessments import helpers as h


@pytest.fixture
def setup(client, factory):
    _, ih = factory.signed_in(Role.instructor, "SE")
    course = h.course_with_assessment(client, ih)
    bank = h.bank(client, ih, course_id=course["id"])
    return {"ih": ih, "course": course, "bank": bank}


def test_bank_scoping(client, factory, setup):
    ih, bank = setup["ih"], setup["bank"]
    shared = h.bank(client, ih, thematic_area="asylum")
    _, other_instructor = factory.signed_in(Role.instructor, "AT")
    _, admin = factory.signed_in(Role.admin)
    # Another instructor: the course's bank does not exist for them; the thematic bank is shared.
    assert client.get(f"/api/v1/question-banks/{bank['id']}", headers=other_instructor).status_code == 404
    assert client.get(f"/api/v1/question-banks/{shared['id']}", headers=other_instructor).status_code == 200
    assert [b["id"] for b in client.get("/api/v1/question-banks", headers=other_instructor).json()] == [shared["id"]]
    assert client.post(f"/api/v1/question-banks/{bank['id']}/questions", json=h.single_choice(), headers=other_instructor).status_code == 404
    assert {b["id"] for b in client.get("/api/v1/question-banks", headers=admin).json()} >= {bank["id"], shared["id"]}
    for role in (Role.learner, Role.coordinator):
        _, headers = factory.signed_in(role, "RS")
        assert client.get("/api/v1/question-banks", headers=headers).status_code == 403
        assert client.get(f"/api/v1/question-banks/{shared['id']}", headers=headers).status_code == 404
        assert client.post("/api/v1/question-banks", json={"title": {"en": "x"}, "thematic_area": "asylum"}, headers=headers).status_code == 403
    # Filters.
    listed = client.get("/api/v1/question-banks", params={"course_id": setup["course"]["id"]}, headers=ih).json()
    assert [b["id"] for b in listed] == [bank["id"]]


@pytest.mark.parametrize("body, field", [
    ({"title": {"en": "x"}}, "body"),
    ({"title": {"en": "x"}, "thematic_area": "asylum", "course_id": "00000000-0000-0000-0000-000000000001"}, "body"),
    ({"title": {"en": "x"}, "thematic_area": "no-such-area"}, "thematic_area"),
    ({"title": {}, "thematic_area": "asylum"}, "title"),
    ({"title": {"not a tag!": "x"}, "thematic_area": "asylum"}, "title"),
    ({"title": {"en": "x"}, "thematic_area": "asylum", "owner_id": "00000000-0000-0000-0000-000000000001"}, "owner_id"),
])
def test_bank_input_is_validated(client, factory, body, field):
    _, ih = factory.signed_in(Role.instructor, "SE")
    r = client.post("/api/v1/question-banks", json=body, headers=ih)
    assert r.status_code == 422, r.text
    assert any(field in e["loc"] for e in r.json()["errors"])


def test_course_bank_needs_a_course_the_instructor_teaches(client, factory, setup):
    _, other = factory.signed_in(Role.instructor, "AT")
    r = client.post("/api/v1/question-banks", json={"title": {"en": "x"}, "course_id": setup["course"]["id"]}, headers=other)
    assert r.status_code == 403  # the published course is visible, not theirs


def test_every_question_type_is_created_with_opaque_ids_and_categories(client, setup):
    ih, bank = setup["ih"], setup["bank"]
    bodies = [
        h.single_choice(category="Vulnerability/Children", tags=["children", "pre-test"]),
        {"type": "multiple_response", "text": {"en": "Indicators?"}, "category": "Vulnerability/Trafficking",
         "choices": [{"text": {"en": "a"}, "correct": True}, {"text": {"en": "b"}}]},
        {"type": "true_false", "text": {"en": "Statement"}, "correct": True},
        {"type": "short_text", "text": {"en": "Database?"}, "answers": [{"text": "EURODAC"}]},
        {"type": "numeric", "text": {"en": "Days?"}, "answers": [{"value": 3, "tolerance": 0}]},
        {"type": "matching", "text": {"en": "Match"}, "pairs": [{"prompt": {"en": "p1"}, "match": {"en": "m1"}},
                                                                   {"prompt": {"en": "p2"}, "match": {"en": "m2"}}]},
        {"type": "ordering", "text": {"en": "Order"}, "items": [{"en": "one"}, {"en": "two"}, {"en": "three"}]},
        {"type": "essay", "text": {"en": "Discuss"}, "grader_info": {"en": "GRADER-ONLY"}},
    ]
    created = [h.question(client, ih, bank["id"], body) for body in bodies]
    assert [q["type"] for q in created] == [b["type"] for b in bodies]
    assert created[0]["category"] == "Vulnerability/Children" and created[0]["tags"] == ["children", "pre-test"]
    assert created[0]["name"] == "Who is an unaccompanied child?" and created[0]["version"] == 1
    matching = created[5]["data"]
    assert set(matching["key"]) == {p["id"] for p in matching["prompts"]}
    assert not set(matching["key"]).intersection(m["id"] for m in matching["matches"])
    detail = client.get(f"/api/v1/question-banks/{bank['id']}", headers=ih).json()
    assert detail["question_count"] == 8
    # Parent categories exist too; counts are per category.
    assert {c["path"]: c["question_count"] for c in detail["categories"]} == {
        "Vulnerability": 0, "Vulnerability/Children": 1, "Vulnerability/Trafficking": 1}


@pytest.mark.parametrize("body", [
    {"type": "single_choice", "text": {"en": "Q"}, "choices": [{"text": {"en": "a"}}, {"text": {"en": "b"}}]},  # no key
    {"type": "single_choice", "text": {"en": "Q"}, "choices": [{"text": {"en": "a"}, "correct": True}]},  # one choice
    {"type": "single_choice", "text": {"en": "Q"}, "choices": [{"text": {"en": "a"}, "correct": True, "credit": 0.5}, {"text": {"en": "b"}}]},
    {"type": "multiple_response", "text": {"en": "Q"}, "choices": [{"text": {"en": "a"}, "correct": True, "credit": 0.5}, {"text": {"en": "b"}}]},
    {"type": "numeric", "text": {"en": "Q"}, "answers": [{"value": 1, "tolerance": -1}]},
    {"type": "numeric", "text": {"en": "Q"}, "answers": []},
    {"type": "short_text", "text": {"en": "Q"}, "answers": [{"text": "  "}]},
    {"type": "matching", "text": {"en": "Q"}, "pairs": [{"prompt": {"en": "p"}, "match": {"en": "m"}}, {"prompt": {"en": "P"}, "match": {"en": "n"}}]},
    {"type": "matching", "text": {"en": "Q"}, "pairs": [{"prompt": {"en": "p"}, "match": {"en": "m"}}, {"prompt": {"en": "q"}, "match": {"en": "m"}}]},
    {"type": "ordering", "text": {"en": "Q"}, "items": [{"en": "a"}, {"en": "A"}]},
    {"type": "essay", "text": {"en": "Q"}, "min_words": 10, "max_words": 5},
    {"type": "hologram", "text": {"en": "Q"}},
    {"type": "true_false", "text": {"en": "Q"}},
    {"type": "true_false", "text": {"en": "x" * 20001}, "correct": True},
    {"type": "true_false", "text": {"en": "Q"}, "correct": True, "points": 0},
    {"type": "true_false", "text": {"en": "Q"}, "correct": True, "choices": []},  # field of another type
])
def test_invalid_questions_are_422_and_store_nothing(client, setup, body):
    ih, bank = setup["ih"], setup["bank"]
    r = client.post(f"/api/v1/question-banks/{bank['id']}/questions", json=body, headers=ih)
    assert r.status_code == 422, r.text
    assert client.get(f"/api/v1/question-banks/{bank['id']}", headers=ih).json()["question_count"] == 0


def test_non_finite_numbers_are_refused(client, setup):
    ih, bank = setup["ih"], setup["bank"]
    raw = '{"type": "numeric", "text": {"en": "Q"}, "answers": [{"value": NaN}]}'
    r = client.post(f"/api/v1/question-banks/{bank['id']}/questions", content=raw, headers={**ih, "Content-Type": "application/json"})
    assert r.status_code == 422
    raw = '{"type": "numeric", "text": {"en": "Q"}, "answers": [{"value": 1, "tolerance": Infinity}]}'
    r = client.post(f"/api/v1/question-banks/{bank['id']}/questions", content=raw, headers={**ih, "Content-Type": "application/json"})
    assert r.status_code == 422


def test_editing_content_adds_a_version_and_other_edits_do_not(client, setup):
    ih, bank = setup["ih"], setup["bank"]
    q = h.question(client, ih, bank["id"], h.single_choice(category="A"))
    same = client.put(f"/api/v1/questions/{q['id']}", json=h.single_choice(category="B", tags=["t"]), headers=ih).json()
    assert same["version"] == 1 and same["category"] == "B" and same["tags"] == ["t"]
    edited = client.put(f"/api/v1/questions/{q['id']}", json=h.single_choice("Who is a separated child?"), headers=ih).json()
    assert edited["version"] == 2 and edited["text"]["en"] == "Who is a separated child?" and edited["category"] is None
    versions = client.get(f"/api/v1/questions/{q['id']}/versions", headers=ih).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["text"]["en"] == "Who is an unaccompanied child?"
    assert client.get(f"/api/v1/questions/{q['id']}/versions/1", headers=ih).json()["data"] == q["data"]
    assert client.get(f"/api/v1/questions/{q['id']}/versions/3", headers=ih).status_code == 404
    other_type = {"type": "true_false", "text": {"en": "Q"}, "correct": True}
    r = client.put(f"/api/v1/questions/{q['id']}", json=other_type, headers=ih)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "type"]


def test_listing_filters_search_and_pagination(client, setup):
    ih, bank = setup["ih"], setup["bank"]
    a = h.question(client, ih, bank["id"], h.single_choice("Trafficking indicators", category="Vulnerability/Trafficking", tags=["t"]))
    b = h.question(client, ih, bank["id"], {"type": "true_false", "text": {"en": "Torture", "sr-Latn": "Mučenje i trauma"},
                                              "correct": True, "category": "Vulnerability"})
    c = h.question(client, ih, bank["id"], {"type": "true_false", "text": {"en": "Return"}, "correct": True, "category": "Return"})
    url = f"/api/v1/question-banks/{bank['id']}/questions"
    cats = {cat["path"]: cat["id"] for cat in client.get(f"/api/v1/question-banks/{bank['id']}", headers=ih).json()["categories"]}

    def ids(**params):
        return [q["id"] for q in client.get(url, params=params, headers=ih).json()["items"]]

    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids(category_id=cats["Vulnerability"]) == [b["id"]]
    assert ids(category_id=cats["Vulnerability"], subcategories="true") == [a["id"], b["id"]]
    assert ids(tag="t") == [a["id"]]
    assert ids(type="true_false") == [b["id"], c["id"]]
    assert ids(q="MUČENJE") == [b["id"]]  # any language, any case
    page = client.get(url, params={"limit": 2}, headers=ih).json()
    assert [q["id"] for q in page["items"]] == [a["id"], b["id"]] and page["next_cursor"]
    rest = client.get(url, params={"limit": 2, "cursor": page["next_cursor"]}, headers=ih).json()
    assert [q["id"] for q in rest["items"]] == [c["id"]] and rest["next_cursor"] is None
    assert client.get(url, params={"cursor": "garbage"}, headers=ih).status_code == 400
    assert client.get(url, params={"type": "hologram"}, headers=ih).status_code == 422


def test_archiving_and_deleting(client, setup):
    ih, bank, course = setup["ih"], setup["bank"], setup["course"]
    used = h.question(client, ih, bank["id"], h.single_choice(category="Used"))
    spare = h.question(client, ih, bank["id"], h.single_choice("Spare"))
    h.quiz(client, ih, course["module_ids"][0], slots=[{"question_id": used["id"]}])
    assert client.delete(f"/api/v1/questions/{used['id']}", headers=ih).status_code == 409
    assert client.delete(f"/api/v1/questions/{spare['id']}", headers=ih).status_code == 204
    url = f"/api/v1/question-banks/{bank['id']}/questions"
    assert [q["id"] for q in client.get(url, headers=ih).json()["items"]] == [used["id"]]
    assert [q["id"] for q in client.get(url, params={"archived": "true"}, headers=ih).json()["items"]] == [spare["id"]]
    category = next(c for c in client.get(f"/api/v1/question-banks/{bank['id']}", headers=ih).json()["categories"] if c["path"] == "Used")
    assert client.delete(f"/api/v1/question-categories/{category['id']}", headers=ih).status_code == 409
    assert client.delete(f"/api/v1/question-banks/{bank['id']}", headers=ih).status_code == 409  # a quiz uses it
    empty = h.bank(client, ih, thematic_area="asylum")
    made = client.post(f"/api/v1/question-banks/{empty['id']}/categories", json={"path": "A/B"}, headers=ih)
    assert made.status_code == 201 and made.json()["path"] == "A/B"
    assert client.delete(f"/api/v1/question-categories/{made.json()['id']}", headers=ih).status_code == 204
    assert client.patch(f"/api/v1/question-banks/{empty['id']}", json={"title": {"en": "Renamed"}}, headers=ih).json()["title"] == {"en": "Renamed"}
    assert client.delete(f"/api/v1/question-banks/{empty['id']}", headers=ih).status_code == 204
    assert client.get(f"/api/v1/question-banks/{empty['id']}", headers=ih).status_code == 404


def test_nul_characters_are_refused_not_stored(client, setup):
    """PostgreSQL stores no NUL character: such input is a 422 here, never a server error."""
    ih, bank = setup["ih"], setup["bank"]
    url = f"/api/v1/question-banks/{bank['id']}"
    assert client.post(f"{url}/questions", json={"type": "true_false", "text": {"en": "a\x00"}, "correct": True}, headers=ih).status_code == 422
    assert client.post(f"{url}/questions", json={**h.single_choice(), "tags": ["a\x00"]}, headers=ih).status_code == 422
    assert client.post(f"{url}/categories", json={"path": "A/\x00"}, headers=ih).status_code == 422
    assert client.get(f"{url}/questions", params={"q": "a\x00", "tag": "b\x00"}, headers=ih).status_code == 422
    assert client.patch(url, json={"title": {"en": "\x00"}}, headers=ih).status_code == 422
    r = client.post(f"{url}/import", content=b"::Q\x00::Text\x00 {T}", headers={**ih, "Content-Type": "text/plain"})
    assert r.status_code == 422 and r.json()["report"]["questions"][0]["status"] == "refused"
