"""Time limits (including the learner who never comes back), availability windows, attempt limits,
grading methods, concurrent submissions, essays graded by hand, and what reaches progress and the LRS."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from app.assessments.models import QuizAttempt
from app.assessments.sweeper import ExpirySweeper
from app.enrolments.models import ModuleProgress, ProgressEvent
from app.users.models import Role
from app.xapi import validation
from tests.assessments import helpers as h
from tests.assessments.conftest import answers_for


def two_question_quiz(client, world, **settings) -> dict:
    """Single choice + true/false, one point each."""
    slots = [{"question_id": world["questions"][0]["id"]}, {"question_id": world["questions"][2]["id"]}]
    return h.quiz(client, world["ih"], world["course"]["module_ids"][0], slots=slots, **settings)


def _progress(db, user_id, module_id) -> ModuleProgress | None:
    from app.enrolments.models import Enrolment

    db.expire_all()
    stmt = (select(ModuleProgress).join(Enrolment, Enrolment.id == ModuleProgress.enrolment_id)
            .where(Enrolment.user_id == user_id, ModuleProgress.module_id == uuid.UUID(module_id)))
    return db.scalars(stmt).first()


def statements(client, factory, registration: str) -> list[dict]:
    _, admin = factory.signed_in(Role.admin)
    r = client.get("/xapi/statements", params={"registration": registration, "ascending": "true"}, headers={**admin, **h.XAPI})
    assert r.status_code == 200, r.text
    return r.json()["statements"]


def verbs(found: list[dict]) -> list[str]:
    return [s["verb"]["display"]["en-US"] for s in found]


# Time ---------------------------------------------------------------------------------------


def test_late_answers_are_refused_and_the_attempt_is_graded_with_what_was_saved(client, factory, world, db):
    quiz = two_question_quiz(client, world, time_limit_seconds=600, review_after_submit=["score", "marks"])
    learner, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    assert attempt["seconds_left"] == 600 or attempt["seconds_left"] == 599
    answers = answers_for(world, attempt)
    client.patch(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": answers[:1]}, headers=lh)
    h.move_attempt(db, attempt["id"], seconds=601)  # the clock ran out 1 second ago
    r = client.patch(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": answers[1:]}, headers=lh)
    assert r.status_code == 409 and r.json()["code"] == "attempt-closed"
    assert "Time is up" in r.json()["detail"] and r.json()["attempt_id"] == attempt["id"]
    graded = client.get(f"/api/v1/attempts/{attempt['id']}", headers=lh).json()
    assert graded["status"] == "graded" and graded["finish_reason"] == "time_limit"
    assert graded["score"]["raw"] == 1.0  # the answer saved in time counts, the late one not
    assert graded["time_spent_seconds"] == 600  # closed at the deadline, not when noticed
    assert graded["submitted_at"] == graded["deadline_at"]
    # A late submit with answers is refused too; without answers it returns the result.
    late = client.post(f"/api/v1/attempts/{attempt['id']}/submit", json={"answers": answers[1:]}, headers=lh)
    assert late.status_code == 409
    assert h.submit(client, lh, attempt["id"])["score"]["raw"] == 1.0
    assert _progress(db, learner.id, quiz["module_id"]).attempts == 1


def test_an_attempt_the_learner_never_returns_to_is_closed_by_the_sweeper(client, factory, world, db):
    quiz = two_question_quiz(client, world, time_limit_seconds=300, passing_score=0.5)
    learner, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    client.patch(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": answers_for(world, attempt)[:1]}, headers=lh)
    sweeper = ExpirySweeper(client.app.state.runtime)
    assert sweeper.run_once() == 0  # not expired yet: nothing happens
    h.move_attempt(db, attempt["id"], seconds=3600)
    assert sweeper.run_once() == 1
    assert sweeper.run_once() == 0  # graded once
    row = db.get(QuizAttempt, uuid.UUID(attempt["id"]))
    db.refresh(row)
    assert (row.status.value, row.finish_reason.value, row.score_scaled, row.passed) == ("graded", "time_limit", 0.5, True)
    assert row.submitted_at == row.deadline_at
    record = _progress(db, learner.id, quiz["module_id"])
    assert (record.status.value, record.score_scaled, record.time_spent_seconds) == ("passed", 0.5, 300)
    assert verbs(statements(client, factory, attempt["id"])) == ["attempted", "answered", "passed"]


def test_an_expired_attempt_is_closed_on_any_read(client, factory, world, db):
    quiz = two_question_quiz(client, world, time_limit_seconds=300)
    learner, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    h.move_attempt(db, attempt["id"], seconds=301)
    # The instructor's report is the first to look: it closes the attempt before counting.
    report = client.get(f"/api/v1/quizzes/{quiz['id']}/report", headers=world["ih"]).json()
    assert (report["in_progress"], report["graded_attempts"]) == (0, 1)
    assert _progress(db, learner.id, quiz["module_id"]).status.value == "completed"
    # The learner's quiz view then offers a new attempt.
    assert client.get(f"/api/v1/quizzes/{quiz['id']}", headers=lh).json()["me"]["open_attempt_id"] is None


def test_availability_window(client, factory, world, db):
    now = dt.datetime.now(dt.UTC)
    quiz = two_question_quiz(client, world, opens_at=(now + dt.timedelta(hours=1)).isoformat())
    _, lh = h.learner(client, factory, world["course"]["id"])
    r = client.post(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=lh)
    assert r.status_code == 409 and r.json()["code"] == "quiz-not-open"
    assert client.get(f"/api/v1/quizzes/{quiz['id']}", headers=lh).json()["me"]["reason"] == "not_open"
    h.set_quiz_times(db, quiz["id"], opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(seconds=30))
    attempt = h.start(client, lh, quiz["id"])
    assert 0 < attempt["seconds_left"] <= 30  # the window ends before any time limit
    h.set_quiz_times(db, quiz["id"], closes_at=now - dt.timedelta(seconds=1))
    closed = client.get(f"/api/v1/attempts/{attempt['id']}", headers=lh).json()
    assert closed["status"] == "graded" and closed["finish_reason"] == "quiz_closed"
    r = client.post(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=lh)
    assert r.status_code == 409 and "closed" in r.json()["detail"]


# Attempts and grades ------------------------------------------------------------------------


def test_attempt_limit(client, factory, world):
    quiz = two_question_quiz(client, world, max_attempts=2)
    _, lh = h.learner(client, factory, world["course"]["id"])
    for n in (1, 2):
        attempt = h.start(client, lh, quiz["id"])
        assert attempt["number"] == n
        h.submit(client, lh, attempt["id"])
    me = client.get(f"/api/v1/quizzes/{quiz['id']}", headers=lh).json()["me"]
    assert (me["attempts_used"], me["attempts_left"], me["can_start"], me["reason"]) == (2, 0, False, "no_attempts_left")
    r = client.post(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=lh)
    assert r.status_code == 409 and r.json()["code"] == "no-attempts-left"


@pytest.mark.parametrize("method, grade, status", [
    ("highest", 1.0, "passed"), ("average", 0.5, "passed"), ("first", 0.5, "passed"), ("last", 0.0, "passed"),
])
def test_grading_methods_reach_progress(client, factory, world, db, method, grade, status):
    # Attempts score 0.5, 1.0, 0.0. "last" ends at 0 but a pass is never taken back.
    quiz = two_question_quiz(client, world, grading_method=method, passing_score=0.5, review_after_submit=["score"])
    learner, lh = h.learner(client, factory, world["course"]["id"])
    for wrong in ({"true_false"}, set(), {"true_false", "single_choice"}):
        attempt = h.start(client, lh, quiz["id"])
        h.submit(client, lh, attempt["id"], answers_for(world, attempt, wrong=wrong))
    me = client.get(f"/api/v1/quizzes/{quiz['id']}", headers=lh).json()["me"]
    assert me["grade"] == pytest.approx(grade)
    record = _progress(db, learner.id, quiz["module_id"])
    assert record.score_scaled == pytest.approx(grade) and record.status.value == status and record.attempts == 3


def test_a_failed_quiz_fails_the_module_until_a_pass(client, factory, world, db):
    quiz = two_question_quiz(client, world, passing_score=0.75)
    learner, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    h.submit(client, lh, attempt["id"], answers_for(world, attempt, wrong={"true_false"}))
    assert _progress(db, learner.id, quiz["module_id"]).status.value == "failed"
    enrolment = client.get("/api/v1/me/courses", headers=lh).json()[0]
    assert enrolment["status"] == "in_progress"
    attempt = h.start(client, lh, quiz["id"])
    h.submit(client, lh, attempt["id"], answers_for(world, attempt))
    assert _progress(db, learner.id, quiz["module_id"]).status.value == "passed"


def test_concurrent_submissions_grade_once(client, factory, world, db):
    quiz = two_question_quiz(client, world, passing_score=0.5)
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    client.patch(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": answers_for(world, attempt)}, headers=lh)
    url = f"/api/v1/attempts/{attempt['id']}/submit"
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: client.post(url, headers=lh), range(6)))
    assert {r.status_code for r in responses} <= {200, 503} and 200 in {r.status_code for r in responses}
    submitted = {r.json()["submitted_at"] for r in responses if r.status_code == 200}
    assert len(submitted) == 1
    assert verbs(statements(client, factory, attempt["id"])).count("passed") == 1
    events = db.scalars(select(ProgressEvent).where(ProgressEvent.module_id == uuid.UUID(quiz["module_id"]),
                                                    ProgressEvent.status == "passed")).all()
    assert len(events) == 1


# Essays -------------------------------------------------------------------------------------


def test_essays_wait_for_an_instructor_and_the_last_grade_completes_the_attempt(client, factory, world, db):
    ih = world["ih"]
    essays = [h.question(client, ih, world["bank"]["id"], {"type": "essay", "text": {"en": f"Essay {n}"}, "points": 4,
                                                            "grader_info": {"en": "GRADER-ONLY rubric"}}) for n in (1, 2)]
    slots = [{"question_id": world["questions"][2]["id"]}, *({"question_id": e["id"]} for e in essays)]
    quiz = h.quiz(client, ih, world["course"]["module_ids"][0], slots=slots, passing_score=0.5,
                  review_after_submit=["score", "marks"])
    learner, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    assert h.leaks(attempt) == []  # no grader information for learners
    items = {i["text"]: i for i in attempt["items"]}
    answers = [{"item_id": items["Essay 1"]["id"], "response": "The applicant needs a guardian and a safe interview."},
               {"item_id": items["Essay 2"]["id"], "response": "A trauma-informed interview plan."},
               {"item_id": items["TF: detention of children is a measure of last resort."]["id"], "response": True}]
    submitted = h.submit(client, lh, attempt["id"], answers)
    assert submitted["status"] == "submitted" and submitted["score"] == {"raw": None, "max": 9.0, "scaled": None, "passed": None}
    assert [i["review"]["state"] for i in submitted["items"]] == ["correct", "pending", "pending"]
    assert _progress(db, learner.id, quiz["module_id"]).status.value == "completed"
    queue = client.get(f"/api/v1/quizzes/{quiz['id']}/grading-queue", headers=ih).json()
    assert [(e["question_name"], e["points"]) for e in queue] == [("Essay 1", 4.0), ("Essay 2", 4.0)]
    assert queue[0]["response"].startswith("The applicant") and queue[0]["grader_info"] == {"en": "GRADER-ONLY rubric"}
    # Only the course's staff grade; never above the question's points.
    url = f"/api/v1/attempts/{attempt['id']}/items/{queue[0]['item_id']}/grade"
    assert client.put(url, json={"points": 3}, headers=lh).status_code == 403
    assert client.put(url, json={"points": 4.5}, headers=ih).status_code == 422
    auto = f"/api/v1/attempts/{attempt['id']}/items/{items['TF: detention of children is a measure of last resort.']['id']}/grade"
    assert client.put(auto, json={"points": 0}, headers=ih).status_code == 409
    first = client.put(url, json={"points": 3, "comment": "Mention age assessment."}, headers=ih).json()
    assert first["status"] == "submitted"
    done = client.put(f"/api/v1/attempts/{attempt['id']}/items/{queue[1]['item_id']}/grade", json={"points": 1}, headers=ih).json()
    assert done["status"] == "graded" and done["score"] == {"raw": 5.0, "max": 9.0, "scaled": 0.555556, "passed": True}
    assert client.get(f"/api/v1/quizzes/{quiz['id']}/grading-queue", headers=ih).json() == []
    record = _progress(db, learner.id, quiz["module_id"])
    assert (record.status.value, record.score_scaled) == ("passed", 0.555556)
    mine = client.get(f"/api/v1/attempts/{attempt['id']}", headers=lh).json()
    assert mine["items"][1]["review"]["comment"] == "Mention age assessment." and mine["items"][1]["review"]["score"] == 3.0
    # Grading again updates the result and records a new outcome.
    client.put(url, json={"points": 0}, headers=ih)
    regraded = client.get(f"/api/v1/attempts/{attempt['id']}", headers=ih).json()
    assert regraded["score"]["raw"] == 2.0 and regraded["score"]["passed"] is False
    assert verbs(statements(client, factory, attempt["id"])) == ["attempted", "answered", "answered", "answered", "completed",
                                                                   "passed", "failed"]


# Results in the LRS -------------------------------------------------------------------------


def test_statements_describe_the_attempt_and_are_valid(client, factory, world):
    quiz = h.quiz(client, world["ih"], world["course"]["module_ids"][0],
                  slots=[{"question_id": q["id"]} for q in world["questions"]], passing_score=0.9,
                  review_after_submit=["score", "marks", "correct_answers"])
    learner, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    answers = answers_for(world, attempt, wrong={"ordering"})
    h.submit(client, lh, attempt["id"], answers)
    found = statements(client, factory, attempt["id"])
    for s in found:
        validation.validate_statement(s)
    assert verbs(found) == ["attempted", *["answered"] * 7, "failed"]
    base = "http://testserver/xapi/activities"
    attempted, *answered, outcome = found
    assert attempted["object"]["id"] == f"{base}/quizzes/{quiz['id']}"
    assert attempted["object"]["definition"]["name"] == {"en": "Test 1", "sr-Latn": "Test 1 (sr)"}
    assert attempted["actor"]["account"] == {"homePage": "http://testserver", "name": str(learner.id)}
    assert attempted["context"]["registration"] == attempt["id"]
    assert attempted["context"]["contextActivities"]["grouping"][0]["id"] == f"{base}/courses/{world['course']['id']}"
    assert attempted["context"]["contextActivities"]["parent"][0]["id"] == f"{base}/modules/{quiz['module_id']}"
    by_type = {s["object"]["definition"]["interactionType"]: s for s in answered}
    assert set(by_type) == {"choice", "true-false", "fill-in", "numeric", "matching", "sequencing"}
    for s in answered:
        assert s["context"]["contextActivities"]["parent"][0]["id"] == f"{base}/quizzes/{quiz['id']}"
        assert s["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
    sc = next(s for s in answered if s["object"]["definition"]["description"]["en"].startswith("SC:"))
    questions = {q["type"]: q for q in world["questions"]}
    right = next(c for c in questions["single_choice"]["data"]["choices"] if c["correct"])
    assert sc["object"]["definition"]["correctResponsesPattern"] == [right["id"]]
    assert {"id": right["id"], "description": right["text"]} in sc["object"]["definition"]["choices"]
    assert sc["result"] == {"response": right["id"], "score": {"raw": 1.0, "min": 0, "max": 1.0, "scaled": 1.0}, "success": True}
    assert sc["object"]["id"] == f"{base}/quizzes/{quiz['id']}/questions/{questions['single_choice']['id']}/versions/1"
    numeric = by_type["numeric"]
    assert numeric["object"]["definition"]["correctResponsesPattern"] == ["2.5[:]3.5"]
    assert numeric["result"]["response"] == "3.2" and numeric["result"]["score"]["raw"] == 2.0
    matching = by_type["matching"]
    key = questions["matching"]["data"]["key"]
    assert matching["result"]["response"] == "[,]".join(f"{p}[.]{m}" for p, m in key.items())
    assert len(matching["object"]["definition"]["source"]) == 2 and len(matching["object"]["definition"]["target"]) == 3
    sequencing = by_type["sequencing"]
    assert sequencing["result"]["success"] is False and sequencing["result"]["score"]["raw"] == 0.0
    assert by_type["fill-in"]["object"]["definition"]["correctResponsesPattern"] == ["KEY-ACCEPTED EURODAC"]
    result = outcome["result"]
    assert result["score"] == {"scaled": 0.875, "raw": 7.0, "min": 0, "max": 8.0}
    assert (result["success"], result["completion"]) == (False, True) and result["duration"].startswith("PT")


def test_progress_counts_attempts_and_time(client, factory, world, db):
    quiz = two_question_quiz(client, world)
    learner, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    record = _progress(db, learner.id, quiz["module_id"])
    assert (record.status.value, record.attempts) == ("in_progress", 1)
    h.move_attempt(db, attempt["id"], seconds=95)
    h.submit(client, lh, attempt["id"], answers_for(world, attempt))
    record = _progress(db, learner.id, quiz["module_id"])
    assert (record.status.value, record.score_scaled, record.time_spent_seconds) == ("completed", 1.0, 95)
    detail = client.get(f"/api/v1/users/{learner.id}/progress", headers=world["ih"]).json()[0]
    module = next(m for m in detail["modules"] if m["module_id"] == quiz["module_id"])
    assert (module["status"], module["score_scaled"], module["attempts"]) == ("completed", 1.0, 1)


def test_withdrawn_learners_keep_their_graded_attempt(client, factory, world, db):
    quiz = two_question_quiz(client, world, time_limit_seconds=120)
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    enrolment = client.get("/api/v1/me/courses", headers=lh).json()[0]
    client.post(f"/api/v1/enrolments/{enrolment['id']}/withdraw", headers=lh)
    h.move_attempt(db, attempt["id"], seconds=200)
    assert ExpirySweeper(client.app.state.runtime).run_once() == 1
    row = db.get(QuizAttempt, uuid.UUID(attempt["id"]))
    db.refresh(row)
    assert row.status.value == "graded"
