"""Registrations, launch, the SCORM run-time commit contract, progress and SCORM-to-xAPI."""

from __future__ import annotations

import json
import re

from app.users.models import Role
from tests.packages import builders
from tests.registrations.conftest import launch, play_setup, runtime_base

X = {"X-Experience-API-Version": "1.0.3"}


def _commit(client, base, body, **params):
    return client.post(f"{base}/commit", content=json.dumps(body), params=params, headers={"Content-Type": "application/json"})


def _statements(client, factory, registration_id):
    _, admin_h = factory.signed_in(Role.admin)
    r = client.get("/xapi/statements", params={"registration": registration_id, "ascending": "true", "limit": 200},
                   headers={**admin_h, **X})
    assert r.status_code == 200, r.text
    return r.json()["statements"]


def test_scorm12_session_resume_time_status_progress_and_statements(client, factory, scorm12_played):
    played = scorm12_played
    first = launch(client, played)
    assert first["attempt_number"] == 1 and first["unit"] == "ITEM-1" and first["mode"] == "normal"
    base, config = runtime_base(client, first["launch_url"])
    assert config["scorm"] == "1.2" and config["content"].startswith("http://testserver/content/")
    cmi = client.get(f"{base}/cmi").json()["cmi"]
    assert cmi["cmi.core.entry"] == "ab-initio" and cmi["cmi.core.lesson_status"] == "not attempted"
    assert cmi["cmi.core.student_id"] == str(played.learner.id) and cmi["cmi.student_data.mastery_score"] == "80"
    # Initialize, some progress, leave suspended; repeated and out-of-order commits change nothing.
    assert _commit(client, base, {"sequence": 1, "data": {}}).json() == {"result": True, "errorCode": 0}
    data = {"cmi.core.lesson_location": "page-7", "cmi.suspend_data": "x" * 20000, "cmi.core.lesson_status": "incomplete",
            "cmi.core.session_time": "0000:00:02.50", "cmi.core.exit": "suspend"}
    assert _commit(client, base, {"sequence": 2, "data": data}).status_code == 200
    assert _commit(client, base, {"sequence": 2, "data": {**data, "cmi.core.session_time": "0000:09:00"}}).status_code == 200
    assert _commit(client, base, {"sequence": 1, "data": {"cmi.core.lesson_location": "stale"}}).status_code == 200
    assert _commit(client, base, {"sequence": 3, "terminate": True, "data": data}).status_code == 200
    # After terminate the session takes no more commits.
    assert _commit(client, base, {"sequence": 4, "data": data}).status_code == 409
    # Relaunch: resume where they left, total time counts the first session once.
    second = launch(client, played)
    assert second["attempt_number"] == 1
    base2, _ = runtime_base(client, second["launch_url"])
    cmi = client.get(f"{base2}/cmi").json()["cmi"]
    assert cmi["cmi.core.entry"] == "resume" and cmi["cmi.core.lesson_location"] == "page-7"
    assert len(cmi["cmi.suspend_data"]) == 20000 and cmi["cmi.core.total_time"] == "0000:00:02.50"
    # Score below mastery (80) fails; then passes on the next commit.
    assert _commit(client, base2, {"sequence": 1, "data": {"cmi.core.score.raw": "60", "cmi.core.lesson_status": "completed",
                                                          "cmi.core.session_time": "0000:00:01"}}).status_code == 200
    reg = client.get(f"/api/v1/registrations/{first['registration_id']}", headers=played.learner_headers).json()
    assert reg["status"] == "failed" and reg["attempts"][0]["success_status"] == "failed"
    done = {"cmi.core.score.raw": "90", "cmi.core.lesson_status": "passed", "cmi.core.session_time": "0000:00:04",
            "cmi.interactions.0.id": "q-asylum-1", "cmi.interactions.0.type": "choice",
            "cmi.interactions.0.student_response": "b", "cmi.interactions.0.result": "correct", "cmi.core.exit": ""}
    assert _commit(client, base2, {"sequence": 2, "terminate": True, "data": done}).status_code == 200
    reg = client.get(f"/api/v1/registrations/{first['registration_id']}", headers=played.learner_headers).json()
    attempt = reg["attempts"][0]
    assert reg["status"] == "passed" and reg["score_scaled"] == 0.9
    assert attempt["completion_status"] == "completed" and attempt["finished_at"] and attempt["total_time_seconds"] == 6.5
    progress = client.get(f"/api/v1/courses/{played.course['id']}/enrolment", headers=played.learner_headers)
    if progress.status_code == 200:
        assert progress.json()["status"] == "completed"
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in _statements(client, factory, first["registration_id"])]
    assert verbs[:2] == ["initialized", "suspended"] and "resumed" in verbs and "failed" in verbs
    assert "passed" in verbs and "responded" in verbs and verbs[-1] == "terminated"
    responded = next(s for s in _statements(client, factory, first["registration_id"]) if s["verb"]["id"].endswith("responded"))
    assert responded["object"]["definition"]["interactionType"] == "choice" and responded["result"] == {"response": "b", "success": True}
    assert responded["context"]["contextActivities"]["category"][0]["id"] == "https://w3id.org/xapi/scorm"


def test_commits_are_validated_and_bad_input_is_a_4xx(client, scorm12_played):
    base, _ = runtime_base(client, launch(client, scorm12_played)["launch_url"])
    assert _commit(client, base, {"sequence": 1, "data": {}}).status_code == 200
    bad = _commit(client, base, {"sequence": 2, "data": {"cmi.core.lesson_status": "excellent"}})
    assert bad.status_code == 400 and bad.json()["result"] is False and bad.json()["errorCode"] > 0
    assert _commit(client, base, {"sequence": 3, "data": {"cmi.core.student_id": "someone-else"}}).status_code == 400
    assert _commit(client, base, {"sequence": 4, "data": {"cmi.nonsense": "1"}}).status_code == 400
    assert client.post(f"{base}/commit", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.post(f"{base}/commit", content=b"[]", headers={"Content-Type": "application/json"}).status_code == 400
    # Nothing of the refused commits was kept.
    assert client.get(f"{base}/cmi").json()["cmi"]["cmi.core.lesson_status"] == "not attempted"
    # Forged and foreign tokens are simply not found.
    assert client.get("/runtime/forged.token/cmi").status_code == 404
    assert _commit(client, "/runtime/forged.token", {"data": {}}).status_code == 404


def test_scorm_again_commit_formats(client, scorm12_played):
    base, _ = runtime_base(client, launch(client, scorm12_played)["launch_url"])
    nested = {"cmi": {"core": {"lesson_location": "slide-3", "lesson_status": "incomplete", "session_time": "0000:00:03",
                               "student_id": str(scorm12_played.learner.id), "total_time": "0000:00:03"},
                      "interactions": {"0": {"id": "q1", "type": "true-false", "student_response": "t"}}},
              "commitSequence": 1}
    r = _commit(client, base, nested)
    assert r.status_code == 200 and r.json() == {"result": True, "errorCode": 0}
    flattened = {"cmi.core.lesson_location": "slide-4", "commitSequence": 2}
    assert _commit(client, base, flattened).status_code == 200
    common = {"successStatus": "unknown", "completionStatus": "incomplete", "totalTimeSeconds": 4,
              "runtimeData": {"cmi": {"core": {"lesson_location": "slide-5"}}}, "commitSequence": 3}
    assert _commit(client, base, common).status_code == 200
    beacon = json.dumps({"cmi": {"core": {"lesson_location": "slide-6", "exit": "suspend"}}, "commitSequence": 4})
    r = client.post(f"{base}/commit", params={"final": "true"}, content=beacon, headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 200
    cmi = client.get(f"{base}/cmi").json()["cmi"]
    assert cmi["cmi.core.lesson_location"] == "slide-6" and cmi["cmi.interactions.0.id"] == "q1"
    assert _commit(client, base, {"cmi.core.lesson_location": "late", "commitSequence": 5}).status_code == 409


def test_registrations_are_scoped_and_launch_is_the_learners(client, factory, scorm12_played):
    played = scorm12_played
    first = launch(client, played)
    rid = first["registration_id"]
    _, other_learner = factory.signed_in(Role.learner, "ME")
    assert client.get(f"/api/v1/registrations/{rid}", headers=other_learner).status_code == 404
    assert client.post(f"/api/v1/registrations/{rid}/launch", json={}, headers=other_learner).status_code == 404
    _, rs_coord = factory.signed_in(Role.coordinator, "RS")
    assert client.get(f"/api/v1/registrations/{rid}", headers=rs_coord).status_code == 404
    _, me_coord = factory.signed_in(Role.coordinator, "ME")
    assert client.get(f"/api/v1/registrations/{rid}", headers=me_coord).status_code == 200
    assert [r["id"] for r in client.get("/api/v1/registrations", headers=me_coord).json()] == [rid]
    assert client.get(f"/api/v1/registrations/{rid}", headers=played.staff).status_code == 200
    # Not enrolled: no registration.
    assert client.post(f"/api/v1/modules/{played.module['id']}/launch", json={}, headers=other_learner).status_code == 403
    assert client.post(f"/api/v1/modules/{played.module['id']}/launch", json={"unit": "NOPE"},
                       headers=played.learner_headers).status_code == 422


def test_attempt_limit_and_grading_across_attempts(client, factory):
    played = play_setup(client, factory, builders.scorm12(), max_attempts=2, grading_method="average")
    for raw in ("60", "100"):
        body = launch(client, played, new_attempt=True)
        base, _ = runtime_base(client, body["launch_url"])
        data = {"cmi.core.score.raw": raw, "cmi.core.lesson_status": "completed", "cmi.core.session_time": "0000:00:01"}
        assert _commit(client, base, {"sequence": 1, "terminate": True, "data": data}).status_code == 200
    reg = client.get(f"/api/v1/registrations/{body['registration_id']}", headers=played.learner_headers).json()
    assert [a["number"] for a in reg["attempts"]] == [1, 2] and reg["score_scaled"] == 0.8
    assert reg["status"] == "passed"  # one attempt reached the mastery score
    r = client.post(f"/api/v1/modules/{played.module['id']}/launch", json={"new_attempt": True}, headers=played.learner_headers)
    assert r.status_code == 409 and r.json()["code"] == "attempts-exhausted"
    # Relaunching without asking for a new attempt reviews the last one: nothing it reports counts.
    review = launch(client, played)
    assert review["mode"] == "review"
    base, _ = runtime_base(client, review["launch_url"])
    assert client.get(f"{base}/cmi").json()["cmi"]["cmi.core.lesson_mode"] == "review"
    assert _commit(client, base, {"sequence": 1, "data": {"cmi.core.score.raw": "0", "cmi.core.lesson_status": "failed"}}).status_code == 200
    assert client.get(f"/api/v1/registrations/{body['registration_id']}", headers=played.learner_headers).json()["score_scaled"] == 0.8


def test_scorm2004_thresholds_decide_status_and_navigation_between_items(client, factory):
    played = play_setup(client, factory, builders.scorm2004())
    body = launch(client, played)
    assert body["unit"] == "MOD1"
    base, config = runtime_base(client, body["launch_url"])
    assert config["scorm"] == "2004" and [i["id"] for i in config["items"]][:2] == ["MOD1", "MOD2"]
    cmi = client.get(f"{base}/cmi").json()["cmi"]
    assert cmi["cmi.completion_threshold"] == "0.8" and cmi["cmi.entry"] == "ab-initio"
    # The SCO claims completed, but progress 0.5 is below the 0.8 threshold: incomplete.
    data = {"cmi.completion_status": "completed", "cmi.progress_measure": "0.5", "cmi.session_time": "PT3.5S"}
    assert _commit(client, base, {"sequence": 1, "data": data}).status_code == 200
    reg = client.get(f"/api/v1/registrations/{body['registration_id']}", headers=played.learner_headers).json()
    assert reg["attempts"][0]["completion_status"] in ("incomplete", "unknown")
    data = {"cmi.progress_measure": "0.9", "cmi.score.scaled": "0.75", "cmi.session_time": "PT5S", "cmi.exit": "normal"}
    assert _commit(client, base, {"sequence": 2, "terminate": True, "data": data}).status_code == 200
    # Flow to the next item of the same attempt.
    nav = client.post(f"{base}/navigate", json={"unit": "MOD2"})
    assert nav.status_code == 200 and nav.json()["unit"] == "MOD2"
    base2, config2 = runtime_base(client, nav.json()["launch_url"])
    assert config2["unit"] == "MOD2" and "chapter=2" in config2["content"]
    assert _commit(client, base2, {"sequence": 1, "terminate": True,
                                   "data": {"cmi.completion_status": "completed", "cmi.success_status": "passed",
                                            "cmi.session_time": "PT1S"}}).status_code == 200
    # The hidden appendix (isvisible="false") still counts in the rollup: not completed yet.
    reg = client.get(f"/api/v1/registrations/{body['registration_id']}", headers=played.learner_headers).json()
    assert reg["attempts"][0]["completion_status"] == "incomplete"
    # It cannot be chosen from the menu, but flow reaches it.
    assert client.post(f"{base2}/navigate", json={"unit": "HIDDEN"}).status_code == 403
    hidden = client.post(f"{base2}/navigate", json={"unit": "HIDDEN", "request": "continue"})
    assert hidden.status_code == 200
    base3, _ = runtime_base(client, hidden.json()["launch_url"])
    assert _commit(client, base3, {"sequence": 1, "terminate": True,
                                   "data": {"cmi.completion_status": "completed", "cmi.session_time": "PT1S"}}).status_code == 200
    reg = client.get(f"/api/v1/registrations/{body['registration_id']}", headers=played.learner_headers).json()
    assert reg["attempts"][0]["completion_status"] == "completed" and reg["status"] in ("passed", "completed")
    assert client.post(f"{base}/navigate", json={"unit": "NOPE"}).status_code == 404


def test_player_page_inlines_the_data_model_before_the_player(client, scorm12_played):
    from pathlib import Path

    import app

    player = Path(app.__file__).parent / "registrations" / "player"
    url = launch(client, scorm12_played)["launch_url"]
    page = client.get("/" + url.split("://", 1)[1].split("/", 1)[1])
    assert page.status_code == 200
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert scripts == [(player / "datamodel.js").read_text("utf-8"), (player / "player.js").read_text("utf-8")]
    assert "{{" not in page.text.replace(scripts[0], "").replace(scripts[1], "")


def test_items_hidden_from_choice_before_anything_is_committed(client, factory):
    """isvisible="false" hides an item from the menu from the first launch on, not only once a commit
    has computed the activity tree's state."""
    played = play_setup(client, factory, builders.scorm2004())
    base, config = runtime_base(client, launch(client, played)["launch_url"])
    assert [(i["id"], i["hidden"], i["disabled"]) for i in config["items"]] == [
        ("MOD1", False, False), ("MOD2", False, False), ("HIDDEN", True, False)]
    assert client.post(f"{base}/navigate", json={"unit": "HIDDEN"}).status_code == 403
    assert client.post(f"{base}/navigate", json={"unit": "HIDDEN", "request": "continue"}).status_code == 200


def test_scorm2004_request_valid_follows_the_items(client, factory):
    played = play_setup(client, factory, builders.scorm2004())
    base, _ = runtime_base(client, launch(client, played)["launch_url"])
    valid = {k.removeprefix("adl.nav.request_valid."): v for k, v in client.get(f"{base}/cmi").json()["cmi"].items()
             if k.startswith("adl.nav.request_valid.")}
    assert valid == {"continue": "true", "previous": "false", "choice.{target=MOD1}": "true",
                     "choice.{target=MOD2}": "true", "choice.{target=HIDDEN}": "false"}
    # The client cannot change them (read-only), and a stale copy of them is not an error.
    assert _commit(client, base, {"sequence": 1, "data": {"adl.nav.request_valid.continue": "false"}}).status_code == 200
    assert client.get(f"{base}/cmi").json()["cmi"]["adl.nav.request_valid.continue"] == "true"
    last = client.post(f"{base}/navigate", json={"unit": "HIDDEN", "request": "continue"}).json()
    base3, _ = runtime_base(client, last["launch_url"])
    cmi = client.get(f"{base3}/cmi").json()["cmi"]
    assert (cmi["adl.nav.request_valid.continue"], cmi["adl.nav.request_valid.previous"]) == ("false", "true")


def test_a_reloaded_player_page_runs_a_new_session_that_resumes(client, factory, scorm12_played):
    url = launch(client, scorm12_played)["launch_url"]
    base, _ = runtime_base(client, url)
    assert _commit(client, base, {"sequence": 1, "data": {}}).status_code == 200
    assert _commit(client, base, {"sequence": 2, "data": {"cmi.core.lesson_location": "p2"}}).status_code == 200
    # The page is reloaded: the new page is served before the old one's closing beacon arrives.
    reloaded, _ = runtime_base(client, url)
    last = {"cmi.core.lesson_location": "p3", "cmi.core.exit": "suspend"}
    assert _commit(client, base, {"sequence": 3, "terminate": True, "data": last}).status_code == 200
    cmi = client.get(f"{reloaded}/cmi").json()["cmi"]
    assert cmi["cmi.core.entry"] == "resume" and cmi["cmi.core.lesson_location"] == "p3"
    # Its commits count from 1 again and are kept (the old session would drop them as repeats).
    assert _commit(client, reloaded, {"sequence": 1, "data": cmi}).status_code == 200
    assert _commit(client, reloaded, {"sequence": 2, "data": {"cmi.core.lesson_location": "p4"}}).status_code == 200
    assert client.get(f"{reloaded}/cmi").json()["cmi"]["cmi.core.lesson_location"] == "p4"
    registration = launch(client, scorm12_played)["registration_id"]
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in _statements(client, factory, registration)]
    assert verbs == ["initialized", "suspended", "resumed"]


def test_a_new_session_waits_briefly_for_the_closing_commit_of_the_previous_one(client, factory, scorm12_played):
    """A reloaded page: the old page's closing beacon can reach the server after the new page asks
    for its data; the first read of the new session waits for it (up to a few seconds)."""
    import threading
    import time

    played = scorm12_played
    base, _ = runtime_base(client, launch(client, played)["launch_url"])
    assert _commit(client, base, {"sequence": 1, "data": {"cmi.core.lesson_location": "page-1"}}).status_code == 200
    base2, _ = runtime_base(client, launch(client, played)["launch_url"])

    def late_beacon():
        time.sleep(0.6)
        _commit(client, base, {"sequence": 2, "terminate": True,
                               "data": {"cmi.core.lesson_location": "page-2", "cmi.core.exit": "suspend"}})

    beacon = threading.Thread(target=late_beacon)
    beacon.start()
    started = time.monotonic()
    cmi = client.get(f"{base2}/cmi").json()["cmi"]
    beacon.join()
    assert cmi["cmi.core.lesson_location"] == "page-2" and cmi["cmi.core.entry"] == "resume"
    assert 0.5 < time.monotonic() - started < 3.0


def test_opening_the_player_while_another_request_writes(client, factory, scorm12_played, settings):
    """Opening a player page writes (a run-time session) in a writing transaction: it queues behind
    a concurrent writer and answers once that one commits (SQLite)."""
    import sqlite3
    import threading
    import time

    import pytest

    if not settings.is_sqlite:
        pytest.skip("SQLite's single writer")
    first = launch(client, scorm12_played)
    path = "/" + first["launch_url"].split("://", 1)[1].split("/", 1)[1]
    other = sqlite3.connect(settings.resolved_database_url.removeprefix("sqlite:///"), timeout=30, check_same_thread=False)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE registrations SET attempt_count = attempt_count + 0, updated_at = CURRENT_TIMESTAMP")

    def release():
        time.sleep(0.5)
        other.execute("COMMIT")

    thread = threading.Thread(target=release)
    thread.start()
    started = time.monotonic()
    page = client.get(path)
    thread.join()
    other.close()
    assert page.status_code == 200, page.text
    assert time.monotonic() - started >= 0.4
