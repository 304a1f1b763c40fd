"""The demo dataset's pre-test and post-test: loaded once however often the demo runs, usable
through the API with the demo logins."""

from __future__ import annotations

from app.demo import load_demo


def _login(client, email: str, password: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_demo_pre_and_post_test(client, settings):
    load_demo(settings)
    load_demo(settings)  # idempotent: one bank, two quizzes, two pre-test attempts
    instructor = _login(client, "instructor@rmtc.example", "demo-instructor-2026")
    course = client.get("/api/v1/courses/by-slug/asylum-procedures-eu-acquis", headers=instructor).json()
    banks = client.get("/api/v1/question-banks", params={"course_id": course["id"]}, headers=instructor).json()
    assert len(banks) == 1 and banks[0]["question_count"] == 6
    quizzes = [client.get(f"/api/v1/modules/{m['id']}/quiz", headers=instructor).json()
               for m in course["modules"] if m["kind"] == "assessment"]
    pre, post = quizzes
    assert (pre["test_phase"], post["test_phase"], post["pre_test_id"]) == ("pre", "post", pre["id"])
    report = client.get(f"/api/v1/quizzes/{post['id']}/report/pre-post", headers=instructor).json()
    assert sorted(row["pre"] for row in report["learners"]) == [0.3333, 0.6667]
    # A demo learner takes the post-test in Serbian.
    learner = _login(client, "learner.rs@rmtc.example", "demo-learner-2026")
    attempt = client.post(f"/api/v1/quizzes/{post['id']}/attempts", headers={**learner, "Accept-Language": "sr-Latn"}).json()
    assert len(attempt["items"]) == 6 and {i["language"] for i in attempt["items"]} == {"sr-Latn"}
    true_false = next(i for i in attempt["items"] if i["type"] == "true_false")
    assert [c["text"] for c in true_false["choices"]] == ["Tačno", "Netačno"]
    assert client.post(f"/api/v1/quizzes/{pre['id']}/attempts", headers=learner).json()["code"] == "no-attempts-left"
    coordinator = _login(client, "coordinator.rs@rmtc.example", "demo-coordinator-2026")
    assert client.get(f"/api/v1/quizzes/{pre['id']}/report", headers=coordinator).json()["graded_learners"] == 2
