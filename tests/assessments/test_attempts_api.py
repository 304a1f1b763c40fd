"""Taking a quiz: start, autosave, resume, submit, server-side grading, what the review shows (and
that answer keys never reach a learner before it allows them), draws, versions and scoping."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from app.assessments import draws, quiz_service
from app.assessments.models import AttemptItem, QuizAttempt, QuizSlot
from app.users.models import Role
from tests.assessments import helpers as h
from tests.assessments.conftest import answers_for


def fixed_quiz(client, world, **settings) -> dict:
    slots = [{"question_id": q["id"]} for q in world["questions"]]
    return h.quiz(client, world["ih"], world["course"]["module_ids"][0], slots=slots, **settings)


def test_every_type_graded_on_the_server(client, factory, world):
    quiz = fixed_quiz(client, world, passing_score=0.8, review_after_submit=["score", "marks"])
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    assert len(attempt["items"]) == 7 and attempt["status"] == "in_progress"
    answers = answers_for(world, attempt, wrong={"true_false", "ordering"})
    saved = client.patch(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": answers}, headers=lh)
    assert saved.status_code == 200 and len(saved.json()["saved"]) == 7
    result = h.submit(client, lh, attempt["id"])
    assert result["status"] == "graded" and result["finish_reason"] == "submitted"
    # 8 points in all (numeric is worth 2); true/false (1) and ordering (1) wrong.
    assert result["score"] == {"raw": 6.0, "max": 8.0, "scaled": 0.75, "passed": False}
    states = {i["type"]: (i["review"]["state"], i["review"]["score"]) for i in result["items"]}
    assert states == {"single_choice": ("correct", 1.0), "multiple_response": ("correct", 1.0), "true_false": ("incorrect", 0.0),
                      "short_text": ("correct", 1.0), "numeric": ("correct", 2.0), "matching": ("correct", 1.0),
                      "ordering": ("incorrect", 0.0)}


def test_the_client_cannot_send_its_own_score(client, factory, world):
    quiz = fixed_quiz(client, world)
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    item = attempt["items"][0]["id"]
    for body in ({"answers": [{"item_id": item, "response": None, "score": 1}]}, {"answers": [], "score": 1.0}):
        assert client.post(f"/api/v1/attempts/{attempt['id']}/submit", json=body, headers=lh).status_code == 422
    assert client.patch(f"/api/v1/attempts/{attempt['id']}/answers",
                        json={"answers": [{"item_id": item, "response": None, "credit": 1}]}, headers=lh).status_code == 422


def _collect_learner_responses(client, lh, quiz, attempt_id, answers):
    """Every response a learner gets while taking the quiz."""
    seen = [client.get(f"/api/v1/quizzes/{quiz['id']}", headers=lh).json(),
            client.get(f"/api/v1/modules/{quiz['module_id']}/quiz", headers=lh).json(),
            client.get(f"/api/v1/attempts/{attempt_id}", headers=lh).json(),
            client.patch(f"/api/v1/attempts/{attempt_id}/answers", json={"answers": answers}, headers=lh).json(),
            client.get(f"/api/v1/attempts/{attempt_id}", headers=lh, params={"lang": "sr-Latn"}).json(),
            client.get(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=lh).json()]
    return seen


def test_answer_keys_never_reach_the_learner_before_the_review_allows(client, factory, world, db):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    quiz = fixed_quiz(client, world, review_after_submit=["score"], closes_at=later.isoformat())
    _, lh = h.learner(client, factory, world["course"]["id"])
    started = client.post(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=lh).json()
    # A wrong short answer: typing the accepted one would put the key in the learner's own response.
    answers = answers_for(world, started, wrong={"short_text"})
    while_open = [started, *_collect_learner_responses(client, lh, quiz, started["id"], answers)]
    for payload in while_open:
        assert h.leaks(payload) == [], payload
    submitted = h.submit(client, lh, started["id"])
    after_submit = [submitted, client.get(f"/api/v1/attempts/{started['id']}", headers=lh).json(),
                    client.get(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=lh).json()]
    for payload in after_submit:
        # The score is what this quiz shows after submitting; nothing else.
        assert h.leaks(payload, fields=h.KEY_FIELDS - {"score"}) == [], payload
        for row in payload["items"]:
            assert row.get("response") is None
    assert submitted["score"]["scaled"] == 0.875 and submitted["review"] == ["score"]
    # Banks and questions are not the learner's to read.
    question = world["questions"][0]
    assert client.get(f"/api/v1/questions/{question['id']}", headers=lh).status_code == 404
    assert client.get(f"/api/v1/question-banks/{world['bank']['id']}/export", headers=lh).status_code == 404
    # Nor through the LRS: neither the learner's own statements nor the activity definitions.
    xh = {**lh, **h.XAPI}
    own = client.get("/xapi/statements", params={"registration": started["id"]}, headers=xh).json()["statements"]
    assert {s["verb"]["display"]["en-US"] for s in own} == {"attempted", "answered", "completed"}
    assert h.leaks(own, fields={"correctResponsesPattern", "success"}, markers=h.KEY_MARKERS[1:]) == []
    assert all("score" not in s.get("result", {}) for s in own if s["verb"]["display"]["en-US"] == "answered")
    activity = next(s["object"]["id"] for s in own if s["verb"]["display"]["en-US"] == "answered")
    definition = client.get("/xapi/activities", params={"activityId": activity}, headers=xh).json()["definition"]
    assert "correctResponsesPattern" not in definition and definition["interactionType"]
    # Once the quiz closes, the review after closing shows everything.
    h.set_quiz_times(db, quiz["id"], closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    closed = client.get(f"/api/v1/attempts/{started['id']}", headers=lh).json()
    assert closed["review"] == ["score", "answers", "marks", "correct_answers", "feedback"]
    by_type = {i["type"]: i for i in closed["items"]}
    sc = by_type["single_choice"]
    assert sc["response"] == sc["review"]["correct_response"][0]
    assert sc["review"]["feedback"] == ["CHOICE-FEEDBACK right", "FEEDBACK-MARKER general"]
    assert sc["review"]["explanation"] == "EXPLANATION-MARKER why"
    assert by_type["short_text"]["review"]["correct_response"] == ["KEY-ACCEPTED EURODAC"]
    assert by_type["numeric"]["review"]["correct_response"] == [{"value": 3.0, "tolerance": 0.5}]


def test_review_options_show_exactly_what_they_name(client, factory, world):
    quiz = fixed_quiz(client, world, review_after_submit=["answers", "feedback"])
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    answers = answers_for(world, attempt, wrong={"multiple_response", "true_false"})
    result = h.submit(client, lh, attempt["id"], answers)
    assert result["score"] is None and result["review"] == ["answers", "feedback"]
    by_type = {i["type"]: i for i in result["items"]}
    assert by_type["true_false"]["response"] is False
    review = by_type["true_false"]["review"]
    assert review["feedback"] == [] and review["state"] is None and review["correct_response"] is None  # chose false: no feedback_false
    assert by_type["single_choice"]["review"]["feedback"] == ["CHOICE-FEEDBACK right", "FEEDBACK-MARKER general"]
    assert by_type["multiple_response"]["review"]["explanation"] is None
    # Staff of the course see everything, including the key, at any time.
    full = client.get(f"/api/v1/attempts/{attempt['id']}", headers=world["ih"]).json()
    assert full["score"]["scaled"] < 1 and full["items"][0]["review"]["correct_response"]


def test_texts_follow_the_learners_language(client, factory, world):
    quiz = fixed_quiz(client, world)
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = client.post(f"/api/v1/quizzes/{quiz['id']}/attempts", headers={**lh, "Accept-Language": "sr-Latn, en;q=0.5"}).json()
    sc = next(i for i in attempt["items"] if i["type"] == "single_choice")
    assert sc["language"] == "sr-Latn" and sc["text"] == "Ko je dete bez pratnje?"
    assert "Lice mlađe od 18 bez pratnje" in [c["text"] for c in sc["choices"]]
    assert "Any person under 18" in [c["text"] for c in sc["choices"]]  # no translation: English
    tf = next(i for i in attempt["items"] if i["type"] == "true_false")
    assert tf["language"] == "en" and [c["text"] for c in tf["choices"]] == ["True", "False"]
    quiz_sr = client.get(f"/api/v1/quizzes/{quiz['id']}", params={"lang": "sr"}, headers=lh).json()
    assert quiz_sr["title"] == "Test 1 (sr)" and quiz_sr["language"] == "sr-Latn"


def test_autosave_resume_on_another_device_and_one_open_attempt(client, factory, world):
    quiz = fixed_quiz(client, world, shuffle_questions=True)
    learner, lh = h.learner(client, factory, world["course"]["id"])
    first = h.start(client, lh, quiz["id"])
    answers = answers_for(world, first)
    assert client.patch(f"/api/v1/attempts/{first['id']}/answers", json={"answers": answers[:3]}, headers=lh).status_code == 200
    # Another device signs in and starts: the same attempt comes back (200), answers included.
    other_device = factory.headers(learner)
    r = client.post(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=other_device)
    assert r.status_code == 200 and r.json()["id"] == first["id"]
    resumed = r.json()
    assert [i["id"] for i in resumed["items"]] == [i["id"] for i in first["items"]]
    assert [i.get("choices") for i in resumed["items"]] == [i.get("choices") for i in first["items"]]
    saved = {a["item_id"]: a["response"] for a in answers[:3]}
    assert {i["id"]: i["response"] for i in resumed["items"] if i["response"] is not None} == saved
    # A later save overwrites; clearing with null works.
    item = answers[0]["item_id"]
    client.patch(f"/api/v1/attempts/{first['id']}/answers", json={"answers": [{"item_id": item, "response": None}]}, headers=other_device)
    again = client.get(f"/api/v1/attempts/{first['id']}", headers=lh).json()
    assert next(i for i in again["items"] if i["id"] == item)["response"] is None


@pytest.mark.parametrize("response", ["not-an-id", ["x"], {"a": 1}, 12, True, None])
def test_responses_that_do_not_fit_are_422_and_save_nothing(client, factory, world, response):
    quiz = fixed_quiz(client, world)
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    sc = next(i for i in attempt["items"] if i["type"] == "single_choice")
    good = {"item_id": next(i for i in attempt["items"] if i["type"] == "true_false")["id"], "response": True}
    r = client.patch(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": [good, {"item_id": sc["id"], "response": response}]},
                     headers=lh)
    if response is None:
        assert r.status_code == 200  # null clears
        return
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "answers", 1, "response"]
    assert all(i["response"] is None for i in client.get(f"/api/v1/attempts/{attempt['id']}", headers=lh).json()["items"])


def test_other_malformed_answer_requests(client, factory, world):
    quiz = fixed_quiz(client, world)
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    url = f"/api/v1/attempts/{attempt['id']}/answers"
    item = attempt["items"][0]["id"]
    assert client.patch(url, json={"answers": [{"item_id": str(uuid.uuid4()), "response": "x"}]}, headers=lh).status_code == 422
    assert client.patch(url, json={"answers": [{"item_id": item, "response": None}] * 2}, headers=lh).status_code == 422
    assert client.patch(url, json={"answers": []}, headers=lh).status_code == 422
    assert client.patch(url, json={"answers": [{"item_id": item, "response": None}] * 201}, headers=lh).status_code == 422
    assert client.patch(url, content=b"{not json", headers={**lh, "Content-Type": "application/json"}).status_code == 422
    st = next(i for i in attempt["items"] if i["type"] == "short_text")["id"]
    assert client.patch(url, json={"answers": [{"item_id": st, "response": "EURO\x00DAC"}]}, headers=lh).status_code == 422
    nu = next(i for i in attempt["items"] if i["type"] == "numeric")["id"]
    raw = f'{{"answers": [{{"item_id": "{nu}", "response": NaN}}]}}'
    assert client.patch(url, content=raw, headers={**lh, "Content-Type": "application/json"}).status_code == 422


def test_random_draws_are_fixed_per_attempt_and_reproducible_from_its_seed(client, factory, world, db):
    ih = world["ih"]
    bank = world["bank"]
    for n in range(6):
        h.question(client, ih, bank["id"], {"type": "true_false", "text": {"en": f"Pool question {n}"}, "correct": True,
                                              "category": "Pool/Sub" if n % 2 else "Pool", "tags": ["pool"]})
    cats = {c["path"]: c["id"] for c in client.get(f"/api/v1/question-banks/{bank['id']}", headers=ih).json()["categories"]}
    quiz = h.quiz(client, ih, world["course"]["module_ids"][0], shuffle_questions=True, slots=[
        {"question_id": world["questions"][0]["id"]},
        {"category_id": cats["Pool"], "count": 4, "include_subcategories": True, "tags": ["pool"], "points": 2},
    ])
    slot_view = quiz["slots"][1]
    assert slot_view["available"] == 6 and slot_view["category"] == "Pool" and quiz["question_count"] == 5
    orders = set()
    for _ in range(4):
        _, lh = h.learner(client, factory, world["course"]["id"])
        attempt = h.start(client, lh, quiz["id"])
        texts = [i["text"] for i in attempt["items"]]
        assert len(texts) == 5 and len(set(texts)) == 5 and sum(t.startswith("Pool question") for t in texts) == 4
        assert all(i["points"] == 2.0 for i in attempt["items"] if i["text"].startswith("Pool"))
        assert [i["text"] for i in client.get(f"/api/v1/attempts/{attempt['id']}", headers=lh).json()["items"]] == texts
        orders.add(tuple(texts))
        # The stored seed reproduces the stored draw.
        row = db.get(QuizAttempt, uuid.UUID(attempt["id"]))
        slots = list(db.scalars(select(QuizSlot).where(QuizSlot.quiz_id == row.quiz_id)))
        redrawn = draws.draw_questions(row.seed, quiz_service.slot_specs(db, slots), shuffle=True)
        stored = [i.question_id for i in db.scalars(select(AttemptItem).where(AttemptItem.attempt_id == row.id).order_by(AttemptItem.position))]
        assert [q for _, q in redrawn] == stored
    assert len(orders) > 1


def test_a_draw_that_cannot_be_filled_is_refused(client, world):
    ih = world["ih"]
    cats = {c["path"]: c["id"] for c in client.get(f"/api/v1/question-banks/{world['bank']['id']}", headers=ih).json()["categories"]}
    r = client.post("/api/v1/quizzes", json={"module_id": world["course"]["module_ids"][0],
                                             "slots": [{"category_id": cats["Vulnerability/Children"], "count": 2}]}, headers=ih)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "slots", 0, "count"]
    r = client.post("/api/v1/quizzes", json={"module_id": world["course"]["module_ids"][0],
                                             "slots": [{"question_id": world["questions"][0]["id"]}] * 2}, headers=ih)
    assert r.status_code == 422 and "twice" in r.json()["errors"][0]["msg"]


def test_editing_a_question_never_changes_an_attempt(client, factory, world):
    quiz = fixed_quiz(client, world, review_after_submit=["score", "marks"])
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    answers = answers_for(world, attempt)
    h.submit(client, lh, attempt["id"], answers)
    sc = world["questions"][0]
    edited = {**h.single_choice("SC v2: who is a separated child?"), "choices": [
        {"text": {"en": "Now this is right"}, "correct": True}, {"text": {"en": "A person under 18 alone"}}]}
    assert client.put(f"/api/v1/questions/{sc['id']}", json=edited, headers=world["ih"]).json()["version"] == 2
    graded = client.get(f"/api/v1/attempts/{attempt['id']}", headers=lh).json()
    assert graded["score"]["scaled"] == 1.0
    assert graded["items"][0]["text"] == "SC: who is an unaccompanied child?"
    _, lh2 = h.learner(client, factory, world["course"]["id"])
    fresh = h.start(client, lh2, quiz["id"])
    assert fresh["items"][0]["text"] == "SC v2: who is a separated child?"


def test_scoping_of_attempts(client, factory, world):
    quiz = fixed_quiz(client, world)
    learner, lh = h.learner(client, factory, world["course"]["id"], country="RS")
    attempt = h.start(client, lh, quiz["id"])
    aid = attempt["id"]
    _, other_learner = h.learner(client, factory, world["course"]["id"], country="RS")
    _, me_coordinator = factory.signed_in(Role.coordinator, "ME")
    _, rs_coordinator = factory.signed_in(Role.coordinator, "RS")
    _, other_instructor = factory.signed_in(Role.instructor, "AT")
    for headers in (other_learner, me_coordinator, other_instructor):
        assert client.get(f"/api/v1/attempts/{aid}", headers=headers).status_code == 404
        assert client.patch(f"/api/v1/attempts/{aid}/answers", json={"answers": [{"item_id": attempt["items"][0]["id"], "response": None}]},
                            headers=headers).status_code == 404
        assert client.post(f"/api/v1/attempts/{aid}/submit", headers=headers).status_code == 404
        assert aid not in [a["id"] for a in client.get(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=headers).json()["items"]]
    # In scope: the country's coordinator and the course's instructor read it, in full; they cannot answer it.
    for headers in (rs_coordinator, world["ih"]):
        seen = client.get(f"/api/v1/attempts/{aid}", headers=headers)
        assert seen.status_code == 200 and seen.json()["review"] == ["score", "answers", "marks", "correct_answers", "feedback"]
        assert client.post(f"/api/v1/attempts/{aid}/submit", headers=headers).status_code == 403
        assert [a["id"] for a in client.get(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=headers).json()["items"]] == [aid]
    filtered = client.get(f"/api/v1/quizzes/{quiz['id']}/attempts", params={"user_id": str(learner.id)}, headers=world["ih"]).json()
    assert [a["id"] for a in filtered["items"]] == [aid]
    # Pages: oldest first, a cursor to the next.
    _, lh2 = h.learner(client, factory, world["course"]["id"], country="RS")
    second = h.start(client, lh2, quiz["id"])
    page = client.get(f"/api/v1/quizzes/{quiz['id']}/attempts", params={"limit": 1}, headers=world["ih"]).json()
    assert [a["id"] for a in page["items"]] == [aid] and page["next_cursor"]
    rest = client.get(page["next"], headers=world["ih"]).json()
    assert [a["id"] for a in rest["items"]] == [second["id"]] and rest["next_cursor"] is None


def test_who_may_set_up_quizzes(client, factory, world):
    ih = world["ih"]
    module = world["course"]["module_ids"][0]
    _, other_instructor = factory.signed_in(Role.instructor, "AT")
    _, learner = factory.signed_in(Role.learner, "RS")
    assert client.post("/api/v1/quizzes", json={"module_id": module}, headers=other_instructor).status_code == 403
    assert client.post("/api/v1/quizzes", json={"module_id": module}, headers=learner).status_code == 403
    quiz = h.quiz(client, ih, module)
    assert client.post("/api/v1/quizzes", json={"module_id": module}, headers=ih).status_code == 409  # one per module
    assert client.patch(f"/api/v1/quizzes/{quiz['id']}", json={"max_attempts": 2}, headers=other_instructor).status_code == 403
    assert quiz["slots"] == [] and client.get(f"/api/v1/quizzes/{quiz['id']}", headers=learner).json()["slots"] is None
    resource = client.post(f"/api/v1/courses/{world['course']['id']}/modules",
                           json={"title": {"en": "Reading"}, "kind": "resource", "resource_url": "https://example.org/a.pdf"}, headers=ih)
    r = client.post("/api/v1/quizzes", json={"module_id": resource.json()["id"]}, headers=ih)
    assert r.status_code == 422 and "assessment" in r.json()["detail"]
    assert client.post("/api/v1/quizzes", json={"module_id": str(uuid.uuid4())}, headers=ih).status_code == 404
    bad = [{"opens_at": "2026-03-02T10:00:00Z", "closes_at": "2026-03-01T10:00:00Z"}, {"opens_at": "2026-03-02T10:00:00"},
           {"time_limit_seconds": 5}, {"passing_score": 1.5}, {"review_after_submit": ["everything"]},
           {"pre_test_id": quiz["id"]}, {"max_attempts": 0}]
    for body in bad:
        assert client.patch(f"/api/v1/quizzes/{quiz['id']}", json=body, headers=ih).status_code == 422, body
    assert client.get(f"/api/v1/quizzes/{quiz['id']}", headers=ih).json()["max_attempts"] is None  # nothing stuck
    # A quiz nobody has attempted is deleted; one with attempts is kept.
    assert client.delete(f"/api/v1/quizzes/{quiz['id']}", headers=ih).status_code == 204
    other = fixed_quiz(client, world)
    _, lh = h.learner(client, factory, world["course"]["id"])
    h.start(client, lh, other["id"])
    assert client.delete(f"/api/v1/quizzes/{other['id']}", headers=ih).status_code == 409


def test_learners_must_be_enrolled_and_quizzes_need_questions(client, factory, world):
    quiz = fixed_quiz(client, world)
    _, outsider = factory.signed_in(Role.learner, "RS")
    state = client.get(f"/api/v1/quizzes/{quiz['id']}", headers=outsider).json()["me"]
    assert state["can_start"] is False and state["reason"] == "not_enrolled"
    r = client.post(f"/api/v1/quizzes/{quiz['id']}/attempts", headers=outsider)
    assert r.status_code == 409 and r.json()["code"] == "not-enrolled"
    empty = h.quiz(client, world["ih"], world["course"]["module_ids"][1])
    _, lh = h.learner(client, factory, world["course"]["id"])
    assert client.get(f"/api/v1/quizzes/{empty['id']}", headers=lh).json()["me"]["reason"] == "no_questions"
    assert client.post(f"/api/v1/quizzes/{empty['id']}/attempts", headers=lh).json()["code"] == "quiz-unavailable"
    # A draft course's quiz does not exist for learners.
    draft = h.course_with_assessment(client, world["ih"], publish=False)
    draft_quiz = h.quiz(client, world["ih"], draft["module_ids"][0])
    assert client.get(f"/api/v1/quizzes/{draft_quiz['id']}", headers=lh).status_code == 404
