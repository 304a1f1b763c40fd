"""Enrolments, CSV bulk enrolment, cohorts, progress and completion, and their scoping."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.enrolments.models import Enrolment, ProgressEvent
from app.users.models import Role
from tests.catalogue_helpers import make_course


@pytest.fixture
def course(client, factory):
    _, ih = factory.signed_in(Role.instructor, "SE")
    return make_course(client, ih, modules=2)


def test_self_enrolment_and_country_availability(client, factory):
    _, ih = factory.signed_in(Role.instructor, "SE")
    mk_only = make_course(client, ih, available_to_all=False, countries=["MK"])
    _, rs_h = factory.signed_in(Role.learner, "RS")
    _, mk_h = factory.signed_in(Role.learner, "MK")
    assert client.post(f"/api/v1/courses/{mk_only['id']}/enrol", headers=rs_h).status_code == 404
    r = client.post(f"/api/v1/courses/{mk_only['id']}/enrol", headers=mk_h)
    assert r.status_code == 200 and r.json()["status"] == "enrolled" and r.json()["source"] == "self"
    again = client.post(f"/api/v1/courses/{mk_only['id']}/enrol", headers=mk_h)
    assert again.json()["id"] == r.json()["id"]  # idempotent


def test_archived_and_draft_courses_take_no_enrolments(client, factory):
    _, ih = factory.signed_in(Role.instructor, "SE")
    archived = make_course(client, ih)
    draft = make_course(client, ih, publish=False)
    learner, lh = factory.signed_in(Role.learner, "RS")
    assert client.post(f"/api/v1/courses/{archived['id']}/enrol", headers=lh).status_code == 200
    client.post(f"/api/v1/courses/{archived['id']}/archive", headers=ih)
    _, other_h = factory.signed_in(Role.learner, "RS")
    r = client.post(f"/api/v1/courses/{archived['id']}/enrol", headers=other_h)
    assert r.status_code == 404  # archived courses are not in the catalogue for non-enrolled learners
    # The enrolled learner still reads the archived course and sees it on the dashboard.
    assert client.get(f"/api/v1/courses/{archived['id']}", headers=lh).status_code == 200
    assert [c["course_status"] for c in client.get("/api/v1/me/courses", headers=lh).json()] == ["archived"]
    _, ah = factory.signed_in(Role.admin)
    assert client.post(f"/api/v1/courses/{archived['id']}/enrolments", json={"user_ids": [str(learner.id)]}, headers=ah).status_code == 409
    assert client.post(f"/api/v1/courses/{draft['id']}/enrolments", json={"user_ids": [str(learner.id)]}, headers=ah).status_code == 409


def test_bulk_csv_reports_every_row_and_creates_nothing_for_invalid_rows(client, factory, course, db):
    coord, ch = factory.signed_in(Role.coordinator, "RS")
    ok1 = factory.user(Role.learner, "RS", email="ok1@kirs.gov.rs")
    ok2 = factory.user(Role.learner, "RS", email="ok2@kirs.gov.rs")
    foreign = factory.user(Role.learner, "ME", email="someone@mup.gov.me")
    inactive = factory.user(Role.learner, "RS", email="gone@kirs.gov.rs", active=False)
    csv_body = "email\nOK1@kirs.gov.rs\nnobody@kirs.gov.rs\nsomeone@mup.gov.me\nnot-an-email\n\ngone@kirs.gov.rs\nok2@kirs.gov.rs\nok1@kirs.gov.rs\n"
    r = client.post(f"/api/v1/courses/{course['id']}/enrolments/csv", content=csv_body.encode(),
                    headers={**ch, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    report = r.json()
    by_line = {row["row"]: row for row in report["rows"]}
    assert by_line[2]["status"] == "enrolled" and by_line[2]["user_id"] == str(ok1.id)
    assert by_line[3]["status"] == "error" and "no user" in by_line[3]["error"]
    assert by_line[4]["status"] == "error" and by_line[4]["error"] == by_line[3]["error"]  # other country = unknown
    assert by_line[5]["error"] == "not an email address"
    assert "deactivated" in by_line[7]["error"]
    assert by_line[8]["status"] == "enrolled"
    assert by_line[9]["error"] == "listed twice"
    assert (report["enrolled"], report["already_enrolled"], report["failed"]) == (2, 0, 5)
    enrolled = set(db.scalars(select(Enrolment.user_id).where(Enrolment.course_id == uuid.UUID(report["course_id"]))))
    assert enrolled == {ok1.id, ok2.id} and foreign.id not in enrolled and inactive.id not in enrolled
    # Same file again: the valid rows are already enrolled.
    again = client.post(f"/api/v1/courses/{course['id']}/enrolments/csv", content=csv_body.encode(),
                        headers={**ch, "Content-Type": "text/csv"}).json()
    assert again["already_enrolled"] == 2 and again["enrolled"] == 0


def test_atomic_bulk_enrolment_refuses_everything(client, factory, course, db):
    _, ch = factory.signed_in(Role.coordinator, "BA")
    ok = factory.user(Role.learner, "BA")
    foreign = factory.user(Role.learner, "RS")
    r = client.post(f"/api/v1/courses/{course['id']}/enrolments",
                    json={"user_ids": [str(ok.id), str(foreign.id)], "atomic": True}, headers=ch)
    assert r.status_code == 422
    assert [row["status"] for row in r.json()["rows"]] == ["enrolled", "error"]
    assert db.scalars(select(Enrolment).where(Enrolment.user_id == ok.id)).first() is None


@pytest.mark.parametrize("body", [b"", b"\xff\xfe\x00garbage", b"name,phone\nx,1\n"])
def test_bad_csv_is_400(client, factory, course, body):
    _, ch = factory.signed_in(Role.coordinator, "RS")
    r = client.post(f"/api/v1/courses/{course['id']}/enrolments/csv", content=body, headers={**ch, "Content-Type": "text/csv"})
    assert r.status_code == 400


def test_csv_needs_csv_content_type(client, factory, course):
    _, ch = factory.signed_in(Role.coordinator, "RS")
    r = client.post(f"/api/v1/courses/{course['id']}/enrolments/csv", content=b"a@b.org", headers={**ch, "Content-Type": "application/json"})
    assert r.status_code == 415


def test_learners_and_instructors_cannot_bulk_enrol(client, factory, course):
    for role in (Role.learner, Role.instructor):
        _, h = factory.signed_in(role, "RS")
        other = factory.user(Role.learner, "RS")
        assert client.post(f"/api/v1/courses/{course['id']}/enrolments", json={"user_ids": [str(other.id)]}, headers=h).status_code == 403


def test_progress_derives_course_completion_from_required_modules(client, factory, db):
    _, ih = factory.signed_in(Role.instructor, "SE")
    course = make_course(client, ih, modules=0, publish=False)
    url = f"/api/v1/courses/{course['id']}/modules"
    m1 = client.post(url, json={"title": {"en": "Read"}, "kind": "resource"}, headers=ih).json()
    m2 = client.post(url, json={"title": {"en": "Annex"}, "kind": "resource", "required": False}, headers=ih).json()
    m3 = client.post(url, json={"title": {"en": "Guide"}, "kind": "resource"}, headers=ih).json()
    client.post(f"/api/v1/courses/{course['id']}/publish", headers=ih)
    learner, lh = factory.signed_in(Role.learner, "MK")
    enrolment = client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh).json()
    assert enrolment["status"] == "enrolled" and enrolment["progress"] == 0
    first = client.post(f"/api/v1/modules/{m1['id']}/viewed", headers=lh).json()
    assert first["status"] == "in_progress" and first["progress"] == 0.5
    assert client.post(f"/api/v1/modules/{m2['id']}/viewed", headers=lh).json()["status"] == "in_progress"
    done = client.post(f"/api/v1/modules/{m3['id']}/viewed", headers=lh).json()
    assert done["status"] == "completed" and done["completed_at"] and done["progress"] == 1.0
    assert [m["satisfied"] for m in done["modules"]] == [True, True, True]
    kinds = [e.kind for e in db.scalars(select(ProgressEvent).where(ProgressEvent.enrolment_id == uuid.UUID(enrolment["id"])).order_by(ProgressEvent.occurred_at))]
    assert kinds.count("viewed") == 3 and kinds[-1] == "course_completed"
    dash = client.get("/api/v1/me/courses", headers=lh).json()
    assert dash[0]["status"] == "completed" and dash[0]["course_slug"] == course["slug"]


def test_no_progress_on_a_withdrawn_enrolment_or_without_one(client, factory, course):
    learner, lh = factory.signed_in(Role.learner, "RS")
    module = course["modules"][0]["id"]
    assert client.post(f"/api/v1/modules/{module}/viewed", headers=lh).status_code == 404
    enrolment = client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh).json()
    assert client.post(f"/api/v1/enrolments/{enrolment['id']}/withdraw", headers=lh).json()["status"] == "withdrawn"
    assert client.post(f"/api/v1/modules/{module}/viewed", headers=lh).status_code == 409
    assert client.get("/api/v1/me/courses", headers=lh).json() == []
    again = client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh).json()
    assert again["id"] == enrolment["id"] and again["status"] == "enrolled"


def test_scoping_of_enrolments_and_progress(client, factory, course):
    _, ah = factory.signed_in(Role.admin)
    rs, rs_h = factory.signed_in(Role.learner, "RS")
    me, me_h = factory.signed_in(Role.learner, "ME")
    for h in (rs_h, me_h):
        client.post(f"/api/v1/courses/{course['id']}/enrol", headers=h)
    _, rs_coord = factory.signed_in(Role.coordinator, "RS")
    # Coordinator: only their country's people, everywhere.
    learners = client.get(f"/api/v1/courses/{course['id']}/learners", headers=rs_coord).json()
    assert [l["user_id"] for l in learners] == [str(rs.id)]
    listed = client.get("/api/v1/enrolments", headers=rs_coord).json()["items"]
    assert {e["user_id"] for e in listed} == {str(rs.id)}
    me_enrolment = client.get(f"/api/v1/enrolments?user_id={me.id}", headers=ah).json()["items"][0]
    assert client.get(f"/api/v1/enrolments/{me_enrolment['id']}", headers=rs_coord).status_code == 404
    assert client.post(f"/api/v1/enrolments/{me_enrolment['id']}/withdraw", headers=rs_coord).status_code == 404
    assert client.get(f"/api/v1/users/{me.id}/progress", headers=rs_coord).status_code == 404
    assert len(client.get(f"/api/v1/users/{rs.id}/progress", headers=rs_coord).json()) == 1
    # Learner: only themselves.
    assert client.get(f"/api/v1/enrolments/{me_enrolment['id']}", headers=rs_h).status_code == 404
    assert client.get(f"/api/v1/users/{me.id}/progress", headers=rs_h).status_code == 404
    assert client.get(f"/api/v1/courses/{course['id']}/learners", headers=rs_h).status_code == 403
    assert {e["user_id"] for e in client.get("/api/v1/enrolments", headers=rs_h).json()["items"]} == {str(rs.id)}
    # Instructor of the course sees all its learners; another instructor none.
    _, other_instr = factory.signed_in(Role.instructor, "AT")
    assert client.get(f"/api/v1/courses/{course['id']}/learners", headers=other_instr).status_code == 403
    assert client.get("/api/v1/enrolments", headers=other_instr).json()["items"] == []
    assert len(client.get(f"/api/v1/courses/{course['id']}/learners", headers=ah).json()) == 2


def test_cohorts_enrol_members_and_are_scoped(client, factory, course, db):
    _, rs_coord = factory.signed_in(Role.coordinator, "RS")
    _, me_coord = factory.signed_in(Role.coordinator, "ME")
    r = client.post("/api/v1/cohorts", json={"course_id": course["id"], "name": "Asylum procedures - Belgrade, March 2026 cohort",
                                             "starts_on": "2026-03-02", "ends_on": "2026-03-27"}, headers=rs_coord)
    assert r.status_code == 201 and r.json()["country_code"] == "RS"
    cohort = r.json()
    assert client.post("/api/v1/cohorts", json={"course_id": course["id"], "name": "X", "country_code": "ME"}, headers=rs_coord).status_code == 403
    assert client.post("/api/v1/cohorts", json={"course_id": course["id"], "name": "X", "starts_on": "2026-03-02", "ends_on": "2026-01-01"}, headers=rs_coord).status_code == 422
    a = factory.user(Role.learner, "RS")
    b = factory.user(Role.learner, "RS", email="b.member@kirs.gov.rs")
    foreign = factory.user(Role.learner, "ME")
    report = client.post(f"/api/v1/cohorts/{cohort['id']}/members",
                         json={"user_ids": [str(a.id), str(foreign.id)], "emails": ["B.Member@kirs.gov.rs"]}, headers=rs_coord).json()
    assert [row["status"] for row in report["rows"]] == ["enrolled", "error", "enrolled"]
    members = client.get(f"/api/v1/cohorts/{cohort['id']}/members", headers=rs_coord).json()
    assert {m["user_id"] for m in members} == {str(a.id), str(b.id)}
    assert all(m["cohort_id"] == cohort["id"] and m["source"] == "cohort" for m in members)
    assert client.get(f"/api/v1/cohorts/{cohort['id']}", headers=rs_coord).json()["member_count"] == 2
    # Another country's coordinator does not see it at all.
    assert client.get(f"/api/v1/cohorts/{cohort['id']}", headers=me_coord).status_code == 404
    assert client.get("/api/v1/cohorts", headers=me_coord).json() == []
    assert client.post(f"/api/v1/cohorts/{cohort['id']}/members", json={"user_ids": [str(foreign.id)]}, headers=me_coord).status_code == 404
    # Removing a member keeps the enrolment.
    assert client.delete(f"/api/v1/cohorts/{cohort['id']}/members/{a.id}", headers=rs_coord).status_code == 204
    enrolment = db.scalars(select(Enrolment).where(Enrolment.user_id == a.id)).one()
    assert enrolment.status.value == "enrolled" and enrolment.cohort_id is None
    assert client.delete(f"/api/v1/cohorts/{cohort['id']}", headers=rs_coord).status_code == 204
    db.expire_all()
    assert db.scalars(select(Enrolment).where(Enrolment.user_id == b.id)).one().status.value == "enrolled"


def test_concurrent_self_enrolments_give_one_enrolment_and_no_server_error(client, factory, course, db):
    import concurrent.futures

    learner, lh = factory.signed_in(Role.learner, "RS")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh).status_code, range(8)))
    assert set(codes) <= {200, 409, 503} and 200 in codes
    assert len(db.scalars(select(Enrolment).where(Enrolment.user_id == learner.id)).all()) == 1


def test_progress_changes_are_recorded_in_the_lrs(client, factory):
    _, ih = factory.signed_in(Role.instructor, "SE")
    course = make_course(client, ih, modules=1, title={"en": "Return and reintegration", "sr-Cyrl": "Повратак и реинтеграција"})
    module = course["modules"][0]
    learner, lh = factory.signed_in(Role.learner, "MK")
    enrolment = client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh).json()
    client.post(f"/api/v1/modules/{module['id']}/viewed", headers=lh)
    xh = {**lh, "X-Experience-API-Version": "1.0.3"}
    r = client.get("/xapi/statements", params={"registration": enrolment["id"], "ascending": "true"}, headers=xh)
    assert r.status_code == 200, r.text
    found = r.json()["statements"]
    # Viewing a resource module completes it, which completes this one-module course.
    assert [s["verb"]["id"].rsplit("/", 1)[1] for s in found] == ["completed", "completed"]
    viewed, completed = found
    assert viewed["result"] == {"completion": True}
    assert viewed["actor"]["account"] == {"homePage": "http://testserver", "name": str(learner.id)}
    assert viewed["object"]["id"] == f"http://testserver/xapi/activities/modules/{module['id']}"
    assert viewed["context"]["contextActivities"]["parent"][0]["definition"]["name"]["sr-Cyrl"] == "Повратак и реинтеграција"
    assert completed["object"]["id"] == f"http://testserver/xapi/activities/courses/{course['id']}"
    assert completed["result"] == {"completion": True}
    assert viewed["authority"]["account"]["name"] == "rmtc-platform"
    # The learner's own statements are theirs to read; another learner sees none of them.
    _, other_h = factory.signed_in(Role.learner, "MK")
    r = client.get("/xapi/statements", params={"registration": enrolment["id"]}, headers={**other_h, "X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 200 and r.json()["statements"] == []
