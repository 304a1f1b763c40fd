"""Quiz reports through the API, checked against numbers computed by hand, and their scoping."""

from __future__ import annotations

import csv
import io

import pytest

from app.users.models import Role
from tests.assessments import helpers as h


@pytest.fixture
def graded(client, factory):
    """Four learners (two RS, two ME) took a three-question quiz, one point per question:
        Q1 single choice (R right, W1, W2), Q2 true/false (true), Q3 multiple response a, b right, c wrong.
        L1 RS: R, true, [a, b]  -> 1 + 1 + 1    = 3.0  -> 1.0
        L2 RS: R, false, [a]    -> 1 + 0 + 0.5  = 1.5  -> 0.5
        L3 ME: W1, true, [a, c] -> 0 + 1 + 0    = 1.0  -> 0.333333  (1/2 - 1/1 < 0)
        L4 ME: W1, -, [b]       -> 0 + 0 + 0.5  = 0.5  -> 0.166667
    """
    _, ih = factory.signed_in(Role.instructor, "SE")
    course = h.course_with_assessment(client, ih, modules=2)
    bank = h.bank(client, ih, course_id=course["id"])
    q1 = h.question(client, ih, bank["id"], {"type": "single_choice", "name": "Q1", "text": {"en": "Q1"}, "choices": [
        {"text": {"en": "R"}, "correct": True}, {"text": {"en": "W1"}}, {"text": {"en": "W2"}}]})
    q2 = h.question(client, ih, bank["id"], {"type": "true_false", "name": "Q2", "text": {"en": "Q2"}, "correct": True})
    q3 = h.question(client, ih, bank["id"], {"type": "multiple_response", "name": "Q3", "text": {"en": "Q3"}, "choices": [
        {"text": {"en": t}, "correct": t != "c"} for t in "abc"]})
    quiz = h.quiz(client, ih, course["module_ids"][1], passing_score=0.5, test_phase="post",
                  slots=[{"question_id": q["id"]} for q in (q1, q2, q3)])
    choice = {c["text"]["en"]: c["id"] for q in (q1, q3) for c in q["data"]["choices"]}
    plans = [("RS", "R", True, "ab"), ("RS", "R", False, "a"), ("ME", "W1", True, "ac"), ("ME", "W1", None, "b")]
    learners = []
    for country, one, two, three in plans:
        user, lh = h.learner(client, factory, course["id"], country=country)
        attempt = h.start(client, lh, quiz["id"])
        items = attempt["items"]
        answers = [{"item_id": items[0]["id"], "response": choice[one]},
                   {"item_id": items[1]["id"], "response": two},
                   {"item_id": items[2]["id"], "response": [choice[c] for c in three]}]
        h.submit(client, lh, attempt["id"], answers)
        learners.append((user, lh))
    return {"ih": ih, "course": course, "quiz": quiz, "learners": learners, "questions": (q1, q2, q3), "bank": bank}


def test_quiz_report_numbers(client, graded):
    report = client.get(f"/api/v1/quizzes/{graded['quiz']['id']}/report", headers=graded["ih"]).json()
    assert {k: report[k] for k in ("learners", "attempts", "graded_attempts", "in_progress", "awaiting_grading", "graded_learners")} == {
        "learners": 4, "attempts": 4, "graded_attempts": 4, "in_progress": 0, "awaiting_grading": 0, "graded_learners": 4}
    assert report["mean_grade"] == 0.5  # (1 + 0.5 + 0.333333 + 0.166667) / 4
    assert report["median_grade"] == 0.4167  # (0.5 + 0.333333) / 2
    assert (report["passed"], report["pass_rate"]) == (2, 0.5)
    assert [b["count"] for b in report["distribution"]] == [0, 1, 0, 1, 0, 1, 0, 0, 0, 1]
    assert report["by_country"] == [
        {"country_code": "ME", "learners": 2, "mean_grade": 0.25, "passed": 0, "pass_rate": 0.0},
        {"country_code": "RS", "learners": 2, "mean_grade": 0.75, "passed": 2, "pass_rate": 1.0},
    ]


def test_item_analysis_numbers(client, graded):
    report = client.get(f"/api/v1/quizzes/{graded['quiz']['id']}/report/questions", headers=graded["ih"]).json()
    assert report["attempts"] == 4
    q1, q2, q3 = report["questions"]
    assert [q["name"] for q in (q1, q2, q3)] == ["Q1", "Q2", "Q3"]
    assert [q["facility_index"] for q in (q1, q2, q3)] == [0.5, 0.5, 0.5]
    # Rest-of-quiz scores (raw - item) / 2 and Pearson's r, by hand:
    # Q1 x=(1,1,0,0) y=(1,.25,.5,.25): sxy=.25, sxx=1, syy=.375 -> .4082
    # Q2 x=(1,0,1,0) y=(1,.75,0,.25): sxy=0 -> 0
    # Q3 x=(1,.5,0,.5) y=(1,.5,.5,0): sxy=.25, sxx=.5, syy=.5 -> .5
    assert [q["discrimination_index"] for q in (q1, q2, q3)] == [0.4082, 0.0, 0.5]
    assert [(d["text"], d["correct"], d["count"], d["share"]) for d in q1["distractors"]] == [
        ("R", True, 2, 0.5), ("W1", False, 2, 0.5), ("W2", False, 0, 0.0)]
    assert [(d["id"], d["correct"], d["count"]) for d in q2["distractors"]] == [("true", True, 2), ("false", False, 1)]
    assert q2["unanswered"] == 1
    assert [(d["text"], d["count"], d["share"]) for d in q3["distractors"]] == [("a", 3, 0.75), ("b", 2, 0.5), ("c", 1, 0.25)]
    as_csv = client.get(f"/api/v1/quizzes/{graded['quiz']['id']}/report/questions", params={"format": "csv"}, headers=graded["ih"])
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["name"], r["facility_index"], r["discrimination_index"]) for r in rows] == [
        ("Q1", "0.5", "0.4082"), ("Q2", "0.5", "0.0"), ("Q3", "0.5", "0.5")]


def test_first_attempts_only(client, graded):
    # L4 tries again and gets everything right: "all" counts it, "first" does not.
    _, lh = graded["learners"][3]
    quiz = graded["quiz"]
    q1, _, q3 = graded["questions"]
    attempt = h.start(client, lh, quiz["id"])
    right = {c["text"]["en"]: c["id"] for q in (q1, q3) for c in q["data"]["choices"]}
    h.submit(client, lh, attempt["id"], [
        {"item_id": attempt["items"][0]["id"], "response": right["R"]}, {"item_id": attempt["items"][1]["id"], "response": True},
        {"item_id": attempt["items"][2]["id"], "response": [right["a"], right["b"]]}])
    url = f"/api/v1/quizzes/{quiz['id']}/report/questions"
    assert client.get(url, headers=graded["ih"]).json()["attempts"] == 5
    first = client.get(url, params={"attempts": "first"}, headers=graded["ih"]).json()
    assert first["attempts"] == 4 and first["questions"][0]["facility_index"] == 0.5
    report = client.get(f"/api/v1/quizzes/{quiz['id']}/report", headers=graded["ih"]).json()
    assert report["mean_grade"] == 0.7083 and report["passed"] == 3  # L4's grade is now their highest, 1.0


def test_coordinators_see_their_own_country(client, factory, graded):
    quiz = graded["quiz"]["id"]
    _, rs = factory.signed_in(Role.coordinator, "RS")
    report = client.get(f"/api/v1/quizzes/{quiz}/report", headers=rs).json()
    assert (report["learners"], report["mean_grade"], report["pass_rate"]) == (2, 0.75, 1.0)
    assert [c["country_code"] for c in report["by_country"]] == ["RS"]
    items = client.get(f"/api/v1/quizzes/{quiz}/report/questions", headers=rs).json()["questions"]
    assert items[0]["facility_index"] == 1.0 and items[0]["discrimination_index"] is None  # both RS learners were right
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/quizzes/{quiz}/report/attempts.csv", headers=rs).text)))
    assert {r["country"] for r in rows} == {"RS"} and len(rows) == 2
    _, mk = factory.signed_in(Role.coordinator, "MK")
    assert client.get(f"/api/v1/quizzes/{quiz}/report", headers=mk).json()["learners"] == 0


def test_reports_are_not_for_learners_or_other_instructors(client, factory, graded):
    quiz = graded["quiz"]["id"]
    _, lh = graded["learners"][0]
    _, other = factory.signed_in(Role.instructor, "AT")
    for headers in (lh, other):
        for path in ("report", "report/questions", "report/pre-post", "report/attempts.csv"):
            assert client.get(f"/api/v1/quizzes/{quiz}/{path}", headers=headers).status_code == 403


def test_attempts_csv(client, graded):
    text = client.get(f"/api/v1/quizzes/{graded['quiz']['id']}/report/attempts.csv", headers=graded["ih"]).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4
    assert sorted(float(r["score_scaled"]) for r in rows) == [0.166667, 0.333333, 0.5, 1.0]
    assert {r["status"] for r in rows} == {"graded"} and {r["passed"] for r in rows} == {"true", "false"}


def test_pre_post_comparison(client, factory, graded):
    """Pre-test (one true/false question): L1 0 -> post 1.0, L2 1 -> 0.5, L3 0 -> 0.333333, and a
    learner with only a pre-test. Gains: +1.0, -0.5, +0.333333."""
    ih, course = graded["ih"], graded["course"]
    tf = graded["questions"][1]
    pre = h.quiz(client, ih, course["module_ids"][0], test_phase="pre", slots=[{"question_id": tf["id"]}])
    post = graded["quiz"]
    assert client.patch(f"/api/v1/quizzes/{post['id']}", json={"pre_test_id": pre["id"]}, headers=ih).status_code == 200
    for (user, lh), answer in zip(graded["learners"][:3], (False, True, False)):
        attempt = h.start(client, lh, pre["id"])
        h.submit(client, lh, attempt["id"], [{"item_id": attempt["items"][0]["id"], "response": answer}])
    only_pre, lh = h.learner(client, factory, course["id"], country="ME")
    attempt = h.start(client, lh, pre["id"])
    h.submit(client, lh, attempt["id"], [{"item_id": attempt["items"][0]["id"], "response": True}])
    report = client.get(f"/api/v1/quizzes/{post['id']}/report/pre-post", headers=ih).json()
    assert (report["pre_test_id"], report["post_test_id"]) == (pre["id"], post["id"])
    assert report["overall"] == {"country_code": None, "learners": 3, "mean_pre": 0.3333, "mean_post": 0.6111, "mean_gain": 0.2778}
    assert report["countries"] == [
        {"country_code": "ME", "learners": 1, "mean_pre": 0.0, "mean_post": 0.3333, "mean_gain": 0.3333},
        {"country_code": "RS", "learners": 2, "mean_pre": 0.5, "mean_post": 0.75, "mean_gain": 0.25},
    ]
    by_user = {row["user_id"]: row for row in report["learners"]}
    assert by_user[str(only_pre.id)] | {"full_name": None} == {"user_id": str(only_pre.id), "full_name": None, "country_code": "ME",
                                                               "pre": 1.0, "post": None, "gain": None}
    assert len(report["learners"]) == 5  # L4 has a post-test only
    # The pre-test finds its post-test too; the CSV has one row per learner.
    assert client.get(f"/api/v1/quizzes/{pre['id']}/report/pre-post", headers=ih).json()["overall"] == report["overall"]
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/quizzes/{pre['id']}/report/pre-post", params={"format": "csv"},
                                                      headers=ih).text)))
    assert len(rows) == 5
    _, rs = factory.signed_in(Role.coordinator, "RS")
    assert client.get(f"/api/v1/quizzes/{post['id']}/report/pre-post", headers=rs).json()["overall"]["learners"] == 2


def test_pre_post_needs_a_pair(client, graded):
    lone = h.quiz(client, graded["ih"], graded["course"]["module_ids"][0])
    r = client.get(f"/api/v1/quizzes/{lone['id']}/report/pre-post", headers=graded["ih"])
    assert r.status_code == 409 and r.json()["code"] == "quiz-not-paired"
