"""Courses: authoring rights, publishing rules, languages, search, pagination, caching, scoping."""

from __future__ import annotations

import uuid

import pytest

from app.users.models import Role
from tests.catalogue_helpers import make_course


@pytest.fixture
def instructor(factory):
    return factory.signed_in(Role.instructor, "SE")


@pytest.fixture
def admin(factory):
    return factory.signed_in(Role.admin, "RS")


def test_instructor_creates_a_draft_that_only_teachers_and_admins_see(client, factory, instructor, admin):
    _, ih = instructor
    course = make_course(client, ih, publish=False, thematic_areas=["asylum"], languages=["en", "sr-Latn"])
    assert course["status"] == "draft" and course["thematic_areas"] == ["asylum"]
    _, learner_h = factory.signed_in(Role.learner, "RS")
    _, coord_h = factory.signed_in(Role.coordinator, "RS")
    _, other_instr_h = factory.signed_in(Role.instructor, "AT")
    for h in (learner_h, coord_h, other_instr_h):
        assert client.get(f"/api/v1/courses/{course['id']}", headers=h).status_code == 404
    assert client.get(f"/api/v1/courses/{course['id']}", headers=admin[1]).status_code == 200


def test_only_a_course_with_a_module_can_be_published(client, instructor):
    _, ih = instructor
    course = make_course(client, ih, modules=0, publish=False)
    r = client.post(f"/api/v1/courses/{course['id']}/publish", headers=ih)
    assert r.status_code == 409 and r.json()["code"] == "course-not-publishable"
    client.post(f"/api/v1/courses/{course['id']}/modules", json={"title": {"en": "Intro"}, "kind": "resource"}, headers=ih)
    r = client.post(f"/api/v1/courses/{course['id']}/publish", headers=ih)
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["published_at"]


def test_archive_rules(client, instructor):
    _, ih = instructor
    draft = make_course(client, ih, publish=False)
    assert client.post(f"/api/v1/courses/{draft['id']}/archive", headers=ih).status_code == 409
    course = make_course(client, ih)
    r = client.post(f"/api/v1/courses/{course['id']}/archive", headers=ih)
    assert r.status_code == 200 and r.json()["status"] == "archived"
    assert client.delete(f"/api/v1/courses/{course['id']}", headers=ih).status_code == 409
    assert client.delete(f"/api/v1/courses/{draft['id']}", headers=ih).status_code == 204
    assert client.get(f"/api/v1/courses/{draft['id']}", headers=ih).status_code == 404


def test_who_may_edit(client, factory, instructor, admin):
    owner, ih = instructor
    course = make_course(client, ih)
    other, other_h = factory.signed_in(Role.instructor, "AT")
    _, coord_h = factory.signed_in(Role.coordinator, "RS")
    _, learner_h = factory.signed_in(Role.learner, "RS")
    for h in (other_h, coord_h, learner_h):
        r = client.patch(f"/api/v1/courses/{course['id']}", json={"estimated_minutes": 5}, headers=h)
        assert r.status_code == 403  # visible (published) but not theirs
    assert client.put(f"/api/v1/courses/{course['id']}/instructors", json={"user_ids": [str(other.id)]}, headers=ih).status_code == 200
    assert client.patch(f"/api/v1/courses/{course['id']}", json={"estimated_minutes": 90}, headers=other_h).status_code == 200
    assert client.patch(f"/api/v1/courses/{course['id']}", json={"level": "advanced"}, headers=admin[1]).json()["level"] == "advanced"
    learner = factory.user(Role.learner, "RS")
    bad = client.put(f"/api/v1/courses/{course['id']}/instructors", json={"user_ids": [str(learner.id)]}, headers=ih)
    assert bad.status_code == 422
    assert client.post("/api/v1/courses", json={"slug": "by-coordinator", "title": {"en": "X"}}, headers=coord_h).status_code == 403


def test_language_negotiation_and_fallback(client, instructor):
    _, ih = instructor
    course = make_course(
        client, ih, languages=["sr-Cyrl", "en"],
        title={"en": "Return and reintegration counselling", "sr-Cyrl": "Саветовање о повратку и реинтеграцији", "mk": "Советување"},
        summary={"en": "For case workers", "sr-Cyrl": "За службенике"},
    )
    cid = course["id"]
    r = client.get(f"/api/v1/courses/{cid}", headers={**ih, "Accept-Language": "sr-Cyrl-RS,en;q=0.5"}).json()
    assert r["language"] == "sr-Cyrl" and r["title"].startswith("Саветовање") and r["summary"] == "За службенике"
    r = client.get(f"/api/v1/courses/{cid}?lang=mk", headers=ih).json()
    assert r["language"] == "mk" and r["title"] == "Советување"
    assert r["summary"] == "For case workers"  # no Macedonian summary: English, the common language
    r = client.get(f"/api/v1/courses/{cid}", headers={**ih, "Accept-Language": "de"}).json()
    assert r["language"] == "en" and r["title"] == "Return and reintegration counselling"  # nothing in German
    full = client.get(f"/api/v1/courses/{cid}?translations=true", headers=ih).json()
    assert set(full["translations"]["title"]) == {"en", "sr-Cyrl", "mk"}
    assert "translations" not in r or r["translations"] is None


def test_search_in_any_language_and_filters(client, instructor, factory):
    _, ih = instructor
    a = make_course(client, ih, title={"en": "Identification of vulnerable migrants", "sr-Latn": "Identifikacija ranjivih migranata"},
                    thematic_areas=["vulnerable-migrants"], languages=["en", "sr-Latn"])
    b = make_course(client, ih, title={"en": "Asylum interviews", "mk": "Интервјуа за азил"}, thematic_areas=["asylum"],
                    languages=["mk"], available_to_all=False, countries=["MK", "RS"])
    _, h = factory.signed_in(Role.coordinator, "ME")

    def ids(query):
        r = client.get(f"/api/v1/courses?{query}", headers=h)
        assert r.status_code == 200, r.text
        return {c["id"] for c in r.json()["items"]}

    assert ids("q=RANJIVIH") == {a["id"]}
    assert ids("q=интервјуа") == {b["id"]}
    assert ids("q=asylum interviews") == {b["id"]}
    assert ids("thematic_area=asylum") == {b["id"]}
    assert ids("language=mk") == {b["id"]}
    assert ids("country=ME") == {a["id"]}
    assert ids("country=MK") == {a["id"], b["id"]}
    assert ids("q=%25") == set()


def test_catalogue_pagination_is_stable_when_courses_are_added(client, instructor):
    _, ih = instructor
    made = [make_course(client, ih, slug=f"page-course-{i}")["id"] for i in range(5)]
    first = client.get("/api/v1/courses?limit=2", headers=ih).json()
    assert [c["id"] for c in first["items"]] == made[::-1][:2]
    make_course(client, ih, slug="page-course-new")  # newest first: lands before page one
    second = client.get(first["next"].replace("http://testserver", ""), headers=ih).json()
    assert [c["id"] for c in second["items"]] == made[::-1][2:4]
    third = client.get(second["next"].replace("http://testserver", ""), headers=ih).json()
    assert [c["id"] for c in third["items"]] == made[::-1][4:]
    assert third["next"] is None


def test_etag_304_and_change(client, instructor):
    _, ih = instructor
    course = make_course(client, ih)
    url = f"/api/v1/courses/{course['id']}"
    r1 = client.get(url, headers=ih)
    etag = r1.headers["etag"]
    assert "Accept-Language" in r1.headers["vary"]
    r2 = client.get(url, headers={**ih, "If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b"" and r2.headers["etag"] == etag
    assert client.get(url, headers={**ih, "If-None-Match": '"other", ' + etag}).status_code == 304
    client.patch(url, json={"estimated_minutes": 45}, headers=ih)
    r3 = client.get(url, headers={**ih, "If-None-Match": etag})
    assert r3.status_code == 200 and r3.headers["etag"] != etag
    listing = client.get("/api/v1/courses", headers=ih)
    assert client.get("/api/v1/courses", headers={**ih, "If-None-Match": listing.headers["etag"]}).status_code == 304
    assert client.get("/api/v1/courses?lang=sr-Latn", headers={**ih, "If-None-Match": listing.headers["etag"]}).status_code == 200


def test_learners_see_published_courses_open_to_their_country(client, instructor, factory):
    _, ih = instructor
    open_all = make_course(client, ih)
    only_mk = make_course(client, ih, available_to_all=False, countries=["MK"])
    draft = make_course(client, ih, publish=False)
    _, rs_h = factory.signed_in(Role.learner, "RS")
    _, mk_h = factory.signed_in(Role.learner, "MK")
    rs_ids = {c["id"] for c in client.get("/api/v1/courses", headers=rs_h).json()["items"]}
    mk_ids = {c["id"] for c in client.get("/api/v1/courses", headers=mk_h).json()["items"]}
    assert rs_ids == {open_all["id"]} and mk_ids == {open_all["id"], only_mk["id"]}
    assert client.get(f"/api/v1/courses/{only_mk['id']}", headers=rs_h).status_code == 404
    assert client.get(f"/api/v1/courses/{draft['id']}", headers=mk_h).status_code == 404
    assert draft["id"] not in {c["id"] for c in client.get("/api/v1/courses?status=draft", headers=rs_h).json()["items"]}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"slug": "Bad Slug", "title": {"en": "X"}}, "slug"),
        ({"slug": "ok-slug", "title": {}}, "title"),
        ({"slug": "ok-slug", "title": {"en": "X"}, "thematic_areas": ["no-such-area"]}, "thematic_areas"),
        ({"slug": "ok-slug", "title": {"en": "X"}, "languages": ["xx-Nope"]}, "languages"),
        ({"slug": "ok-slug", "title": {"en": "X"}, "available_to_all": False}, "body"),
        ({"slug": "ok-slug", "title": {"en": "X"}, "available_to_all": False, "countries": ["QQ"]}, "countries"),
        ({"slug": "ok-slug", "title": {"en": "X"}, "status": "published"}, "status"),
        ({"slug": "ok-slug", "title": {"en": "X"}, "owner_id": str(uuid.UUID(int=1))}, "owner_id"),
    ],
)
def test_invalid_course_bodies(client, instructor, body, field):
    _, ih = instructor
    r = client.post("/api/v1/courses", json=body, headers=ih)
    assert r.status_code == 422, r.text
    assert any(field in [str(p) for p in e["loc"]] for e in r.json()["errors"]), r.json()
    assert client.get("/api/v1/courses/by-slug/ok-slug", headers=ih).status_code == 404


def test_duplicate_slug_is_409(client, instructor):
    _, ih = instructor
    make_course(client, ih, slug="same-slug", publish=False)
    r = client.post("/api/v1/courses", json={"slug": "same-slug", "title": {"en": "Y"}}, headers=ih)
    assert r.status_code == 409


def test_nul_characters_never_make_a_server_error(client, factory):
    """PostgreSQL cannot store NUL characters: such input is a 422 there, and works on SQLite."""
    _, ih = factory.signed_in(Role.instructor, "SE")
    r = client.get("/api/v1/courses", params={"q": "azil\x00"}, headers=ih)
    assert r.status_code in (200, 422), r.text
    created = client.post("/api/v1/courses", json={"slug": "nul-title", "title": {"en": "Asylum\x00"}}, headers=ih)
    assert created.status_code in (201, 422), created.text
    if created.status_code == 422:
        assert "NUL" in created.json()["detail"]
