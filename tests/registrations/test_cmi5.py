"""The cmi5 LMS: launch, fetch URL, LMS.LaunchData, the AU statement rules, moveOn/satisfied,
waived, abandoned; and the xAPI (Tin Can) package launch with progress from its statements."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from app.users.models import Role
from tests.packages import builders
from tests.registrations.conftest import launch, play_setup

X = {"X-Experience-API-Version": "1.0.3"}
CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
MOVEON = "https://w3id.org/xapi/cmi5/context/categories/moveon"
SESSION = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
ADL = "http://adlnet.gov/expapi/verbs/"
INTRO = "https://rmtc.example/aus/intro"
REMOTE = "https://rmtc.example/aus/remote"


@pytest.fixture
def cmi5_played(client, factory):
    return play_setup(client, factory, builders.cmi5())


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Au:
    """What an AU knows after its launch: the launch parameters and its fetched credential."""

    def __init__(self, client, launch_out: dict, *, fetch: bool = True):
        self.client = client
        self.launch = launch_out
        r = client.get(_path(launch_out["launch_url"]), follow_redirects=False)
        assert r.status_code == 303, r.text
        self.url = r.headers["location"]
        query = parse_qs(urlsplit(self.url).query)
        self.params = {k: v[0] for k, v in query.items()}
        self.actor = json.loads(self.params["actor"])
        self.registration = self.params["registration"]
        self.activity_id = self.params["activityId"]
        self.headers = {**X}
        if fetch:
            answer = self.fetch()
            assert set(answer) == {"auth-token"}, answer
            self.headers["Authorization"] = "Basic " + answer["auth-token"]
        self.session_id = None

    def fetch(self) -> dict:
        r = self.client.post(_path(self.params["fetch"]))
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
        return r.json()

    def launch_data(self) -> dict:
        r = self.client.get("/xapi/activities/state", headers=self.headers, params={
            "activityId": self.activity_id, "agent": json.dumps(self.actor), "registration": self.registration,
            "stateId": "LMS.LaunchData"})
        assert r.status_code == 200, r.text
        data = r.json()
        self.session_id = data["contextTemplate"]["extensions"][SESSION]
        self.template = data["contextTemplate"]
        return data

    def statement(self, verb: str, *, result: dict | None = None, defined: bool = True, moveon: bool | None = None,
                  **changes) -> dict:
        context = json.loads(json.dumps(self.template))
        context["registration"] = self.registration
        if defined:
            categories = [{"id": CMI5}]
            if moveon if moveon is not None else bool(result and ("success" in result or "completion" in result)):
                categories.append({"id": MOVEON})
            context["contextActivities"]["category"] = categories
        s = {"id": str(uuid.uuid4()), "actor": self.actor, "verb": {"id": ADL + verb, "display": {"en-US": verb}},
             "object": {"id": self.activity_id, "objectType": "Activity"}, "context": context,
             "timestamp": "2026-11-23T10:00:00.000Z"}
        if result is not None:
            s["result"] = result
        s.update(changes)
        return s

    def send(self, *statements: dict):
        body = statements[0] if len(statements) == 1 else list(statements)
        return self.client.post("/xapi/statements", json=body, headers=self.headers)


def _statements(client, factory, registration: str, verb: str | None = None) -> list[dict]:
    _, admin_h = factory.signed_in(Role.admin)
    params = {"registration": registration, "ascending": "true", "limit": 500}
    if verb:
        params["verb"] = verb
    r = client.get("/xapi/statements", params=params, headers={**admin_h, **X})
    assert r.status_code == 200, r.text
    return r.json()["statements"]


def _verbs(statements: list[dict]) -> list[str]:
    return [s["verb"]["id"].rsplit("/", 1)[1] for s in statements]


def test_launch_fetch_launch_data_and_launched(client, factory, cmi5_played):
    played = cmi5_played
    out = launch(client, played, unit=INTRO, return_url="https://learn.rmtc.example/courses/1")
    assert out["mode"] == "normal" and out["unit"] == INTRO
    au = Au(client, out, fetch=False)
    # The AU's own URL, on the content origin, with the five cmi5 launch parameters.
    assert au.url.startswith("http://testserver/content/") and "/au1/index.html?lang=en&" in au.url
    assert set(au.params) == {"lang", "endpoint", "fetch", "actor", "registration", "activityId"}
    assert au.params["endpoint"] == "http://testserver/xapi/"
    assert au.registration == out["registration_id"]
    assert au.activity_id != INTRO and au.activity_id.startswith("http://testserver/xapi/activities/packages/")
    assert au.actor == {"objectType": "Agent", "account": {"homePage": "http://testserver", "name": str(played.learner.id)}}
    # The fetch URL answers once (status 200 always); a forged one is a security error.
    first = au.fetch()
    assert list(first) == ["auth-token"]
    assert au.fetch()["error-code"] == "1"
    forged = client.post(_path(au.params["fetch"])[:-3] + "abc").json()
    assert forged["error-code"] == "2"
    assert client.get(_path(au.params["fetch"])).status_code == 405
    key, secret = base64.b64decode(first["auth-token"]).decode().split(":", 1)
    assert key and secret
    au.headers["Authorization"] = "Basic " + first["auth-token"]
    data = au.launch_data()
    assert data["launchMode"] == "Normal" and data["moveOn"] == "CompletedOrPassed" and data["masteryScore"] == 0.75
    assert data["launchParameters"] == '{"difficulty": "basic"}'
    assert data["entitlementKey"] == {"courseStructure": "rmtc-2026"}
    assert data["returnURL"] == "https://learn.rmtc.example/courses/1"
    assert data["contextTemplate"]["contextActivities"]["grouping"][0]["id"] == INTRO
    uuid.UUID(au.session_id)
    prefs = client.get("/xapi/agents/profile", headers=au.headers,
                       params={"agent": json.dumps(au.actor), "profileId": "cmi5LearnerPreferences"})
    assert prefs.status_code == 200 and prefs.json()["languagePreference"]
    # The AU may read but never change the LMS's launch data.
    put = client.put("/xapi/activities/state", headers={**au.headers, "Content-Type": "application/json"}, content=b"{}", params={
        "activityId": au.activity_id, "agent": json.dumps(au.actor), "registration": au.registration, "stateId": "LMS.LaunchData"})
    assert put.status_code == 403
    wipe = client.delete("/xapi/activities/state", headers=au.headers, params={
        "activityId": au.activity_id, "agent": json.dumps(au.actor), "registration": au.registration})
    assert wipe.status_code == 204
    assert au.launch_data()["launchMode"] == "Normal"
    # launched, by the LMS, with the context the spec asks for.
    [launched] = _statements(client, factory, au.registration, ADL + "launched")
    ext = launched["context"]["extensions"]
    assert ext[SESSION] == au.session_id
    assert ext["https://w3id.org/xapi/cmi5/context/extensions/launchmode"] == "Normal"
    assert ext["https://w3id.org/xapi/cmi5/context/extensions/moveon"] == "CompletedOrPassed"
    assert ext["https://w3id.org/xapi/cmi5/context/extensions/masteryscore"] == 0.75
    assert ext["https://w3id.org/xapi/cmi5/context/extensions/launchurl"].startswith("http://testserver/content/")
    assert "fetch=" not in ext["https://w3id.org/xapi/cmi5/context/extensions/launchurl"]
    assert launched["object"]["id"] == au.activity_id
    assert {a["id"] for a in launched["context"]["contextActivities"]["category"]} == {CMI5}
    assert launched["context"]["contextActivities"]["grouping"][0]["id"] == INTRO


def test_au_session_satisfaction_waiver_and_progress(client, factory, cmi5_played):
    played = cmi5_played
    au = Au(client, launch(client, played, unit=INTRO))
    au.launch_data()
    r = au.send(au.statement("initialized"))
    assert r.status_code == 200, r.text
    allowed = au.statement("experienced", defined=False)
    allowed["object"] = {"id": au.activity_id + "/page/3"}
    assert au.send(allowed).status_code == 200
    reg = client.get(f"/api/v1/registrations/{au.registration}", headers=played.learner_headers).json()
    assert reg["status"] == "in_progress" and reg["attempts"][0]["completion_status"] == "incomplete"
    r = au.send(au.statement("completed", result={"completion": True, "duration": "PT4M"}),
                au.statement("passed", result={"success": True, "score": {"scaled": 0.8}, "duration": "PT5M"}),
                au.statement("terminated", result={"duration": "PT5M10S"}))
    assert r.status_code == 200, r.text
    # The intro AU met CompletedOrPassed: its block is satisfied; the course is not (the remote AU needs Passed).
    satisfied = _statements(client, factory, au.registration, "https://w3id.org/xapi/adl/verbs/satisfied")
    assert len(satisfied) == 1
    block = satisfied[0]
    assert block["object"]["definition"]["type"] == "https://w3id.org/xapi/cmi5/activitytype/block"
    assert block["object"]["id"] != "https://rmtc.example/blocks/basics"
    assert block["context"]["extensions"][SESSION] == au.session_id
    assert block["context"]["contextActivities"]["grouping"][0]["id"] == "https://rmtc.example/blocks/basics"
    reg = client.get(f"/api/v1/registrations/{au.registration}", headers=played.learner_headers).json()
    assert reg["attempts"][0]["completion_status"] == "incomplete" and reg["status"] == "in_progress"
    # The AU claims 5 min 10 s a moment after its launch: the time counted is capped at the elapsed time + 1 min.
    assert 60 <= reg["attempts"][0]["total_time_seconds"] < 65
    # The learner cannot waive; the instructor waives the remote AU: the course is satisfied.
    assert client.post(f"/api/v1/registrations/{au.registration}/waive", json={"unit": REMOTE},
                       headers=played.learner_headers).status_code == 403
    r = client.post(f"/api/v1/registrations/{au.registration}/waive", json={"unit": REMOTE, "reason": "Tested Out"},
                    headers=played.staff)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "passed"
    assert client.post(f"/api/v1/registrations/{au.registration}/waive", json={"unit": REMOTE},
                       headers=played.staff).status_code == 409
    assert client.post(f"/api/v1/registrations/{au.registration}/waive", json={"unit": INTRO},
                       headers=played.staff).status_code == 409
    assert client.post(f"/api/v1/registrations/{au.registration}/waive", json={"unit": "https://nope"},
                       headers=played.staff).status_code == 404
    [waived] = _statements(client, factory, au.registration, "https://w3id.org/xapi/adl/verbs/waived")
    assert waived["result"]["success"] is True and waived["result"]["completion"] is True
    assert waived["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/reason"] == "Tested Out"
    assert waived["context"]["extensions"][SESSION] not in (au.session_id, None)
    satisfied = _statements(client, factory, au.registration, "https://w3id.org/xapi/adl/verbs/satisfied")
    assert [s["object"]["definition"]["type"].rsplit("/", 1)[1] for s in satisfied] == ["block", "course"]
    assert satisfied[1]["context"]["extensions"][SESSION] == waived["context"]["extensions"][SESSION]
    # Progress: the module (the course's only one) is passed, and so the course is completed.
    reg = client.get(f"/api/v1/registrations/{au.registration}", headers=played.learner_headers).json()
    assert reg["status"] == "passed" and reg["score_scaled"] == pytest.approx(0.8)
    assert reg["attempts"][0]["completion_status"] == "completed" and reg["attempts"][0]["finished_at"]
    [dash] = client.get("/api/v1/me/courses", headers=played.learner_headers).json()
    assert dash["status"] == "completed" and dash["progress"] == 1.0
    # Relaunching the satisfied AU opens it in Review mode; Review records no completion.
    again = Au(client, launch(client, played, unit=INTRO))
    assert again.launch_data()["launchMode"] == "Review"
    assert again.send(again.statement("initialized")).status_code == 200
    r = again.send(again.statement("completed", result={"completion": True, "duration": "PT1M"}))
    assert r.status_code == 400 and "Review" in r.json()["detail"]
    # The AU's statements: initialized ... terminated, all carrying the session id.
    mine = [s for s in _statements(client, factory, au.registration)
            if (s["context"].get("extensions") or {}).get(SESSION) == au.session_id]
    assert _verbs(mine) == ["launched", "initialized", "experienced", "completed", "passed", "terminated", "satisfied"]


def test_statement_rules_refuse_and_store_nothing(client, factory, cmi5_played):
    au = Au(client, launch(client, cmi5_played, unit=INTRO))
    au.launch_data()

    def refused(*statements, status=400, text=""):
        before = len(_statements(client, factory, au.registration))
        r = au.send(*statements)
        assert r.status_code == status, r.text
        assert text in r.json()["detail"], r.json()
        assert len(_statements(client, factory, au.registration)) == before
        return r

    # Nothing before initialized, not even cmi5 allowed statements.
    refused(au.statement("experienced", defined=False), text="first statement")
    refused(au.statement("completed", result={"completion": True, "duration": "PT1M"}), text="first statement")
    assert au.send(au.statement("initialized")).status_code == 200
    refused(au.statement("initialized"), text="already sent")
    no_session = au.statement("experienced", defined=False)
    del no_session["context"]["extensions"][SESSION]
    refused(no_session, text="session id")
    wrong_session = au.statement("experienced", defined=False)
    wrong_session["context"]["extensions"][SESSION] = str(uuid.uuid4())
    refused(wrong_session, text="session id")
    no_grouping = au.statement("experienced", defined=False)
    no_grouping["context"]["contextActivities"].pop("grouping")
    refused(no_grouping, text="grouping")
    refused(au.statement("completed", object={"id": "https://rmtc.example/aus/intro"},
                         result={"completion": True, "duration": "PT1M"}), text="object")
    refused(au.statement("completed", result={"completion": True}), text="duration")
    refused(au.statement("completed", result={"completion": True, "duration": "PT1M"}, moveon=False), text="moveOn")
    refused(au.statement("completed", result={"completion": True, "duration": "PT1M", "score": {"scaled": 1}}),
            text="result.score")
    refused(au.statement("passed", result={"success": True, "duration": "PT1M", "score": {"scaled": 0.5}}),
            text="masteryScore")
    refused(au.statement("failed", result={"success": False, "duration": "PT1M", "score": {"scaled": 0.9}}),
            text="masteryScore")
    refused(au.statement("passed", result={"success": False, "duration": "PT1M"}), text="success true")
    # LMS verbs are not the AU's to send; voiding is not allowed at all.
    satisfied = au.statement("launched")
    satisfied["verb"] = {"id": "https://w3id.org/xapi/adl/verbs/satisfied"}
    refused(satisfied, text="may not send")
    void = au.statement("voided", defined=False, object={"objectType": "StatementRef", "id": str(uuid.uuid4())})
    refused(void, status=403, text="void")
    # A batch with one bad statement is refused whole.
    refused(au.statement("completed", result={"completion": True, "duration": "PT1M"}),
            au.statement("completed", result={"completion": True, "duration": "PT1M"}), text="statement 1: ")
    # Failed, then not passed in the same session; then a second session may pass.
    assert au.send(au.statement("failed", result={"success": False, "duration": "PT1M", "score": {"scaled": 0.4}})).status_code == 200
    refused(au.statement("failed", result={"success": False, "duration": "PT1M"}), text="already")
    refused(au.statement("passed", result={"success": True, "duration": "PT1M", "score": {"scaled": 0.9}}), text="one AU session")
    assert au.send(au.statement("terminated", result={"duration": "PT2M"})).status_code == 200
    refused(au.statement("experienced", defined=False), text="terminated")
    # The identity and registration of the credential are enforced by the LRS.
    other = au.statement("experienced", defined=False, actor={"objectType": "Agent", "mbox": "mailto:someone@example.org"})
    assert au.send(other).status_code == 403
    second = Au(client, launch(client, cmi5_played, unit=INTRO))
    second.launch_data()
    assert second.send(second.statement("initialized")).status_code == 200
    assert second.send(second.statement("passed", result={"success": True, "duration": "PT1M",
                                                          "score": {"scaled": 0.9}})).status_code == 200
    # One passed per registration; failed never follows passed.
    r = second.send(second.statement("failed", result={"success": False, "duration": "PT1M"}))
    assert r.status_code == 400 and "follow passed" in r.json()["detail"]
    reg = client.get(f"/api/v1/registrations/{au.registration}", headers=cmi5_played.learner_headers).json()
    # The course is not satisfied yet (the remote AU), so the module is in progress, with the AU's score.
    assert reg["status"] == "in_progress" and reg["score_scaled"] == pytest.approx(0.9)


def test_relaunch_abandons_open_session(client, factory, cmi5_played):
    first = Au(client, launch(client, cmi5_played, unit=INTRO))
    first.launch_data()
    assert first.send(first.statement("initialized")).status_code == 200
    # The learner closes the window without terminated and launches again.
    second = Au(client, launch(client, cmi5_played, unit=INTRO))
    second.launch_data()
    assert second.session_id != first.session_id
    [abandoned] = _statements(client, factory, first.registration, "https://w3id.org/xapi/adl/verbs/abandoned")
    assert abandoned["context"]["extensions"][SESSION] == first.session_id
    assert abandoned["result"]["duration"].startswith("PT")
    assert abandoned["object"]["id"] == first.activity_id
    # The old session's credential is over.
    assert first.send(first.statement("terminated", result={"duration": "PT1M"})).status_code == 401
    # A third launch abandons the second, which never sent a statement; only once each.
    Au(client, launch(client, cmi5_played, unit=INTRO), fetch=False)
    abandoned = _statements(client, factory, first.registration, "https://w3id.org/xapi/adl/verbs/abandoned")
    assert [s["context"]["extensions"][SESSION] for s in abandoned] == [first.session_id, second.session_id]
    assert abandoned[1]["result"]["duration"] == "PT0H0M0.00S"


def test_browse_mode_and_no_new_attempts(client, factory, cmi5_played):
    r = client.post(f"/api/v1/modules/{cmi5_played.module['id']}/launch", json={"new_attempt": True},
                    headers=cmi5_played.learner_headers)
    assert r.status_code == 409
    out = launch(client, cmi5_played, unit=INTRO, browse=True)
    assert out["mode"] == "browse"
    au = Au(client, out)
    assert au.launch_data()["launchMode"] == "Browse"
    assert au.send(au.statement("initialized")).status_code == 200
    r = au.send(au.statement("passed", result={"success": True, "duration": "PT1M", "score": {"scaled": 1}}))
    assert r.status_code == 400 and "Browse" in r.json()["detail"]
    bad = client.post(f"/api/v1/modules/{cmi5_played.module['id']}/launch", json={"return_url": "javascript:alert(1)"},
                      headers=cmi5_played.learner_headers)
    assert bad.status_code == 422


def test_cmi5_tokens_do_not_reach_the_scorm_runtime(client, cmi5_played):
    out = launch(client, cmi5_played, unit=INTRO)
    token = out["launch_url"].rsplit("/play/", 1)[1]
    assert client.get(f"/runtime/{token}/cmi").status_code == 404
    assert client.post(f"/runtime/{token}/commit", content=b"{}").status_code == 404


def test_cors_for_launched_content(client):
    r = client.options("/xapi/statements", headers={"Origin": "https://publisher.example", "Access-Control-Request-Method": "POST",
                                                      "Access-Control-Request-Headers": "authorization,x-experience-api-version"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = client.options("/cmi5/fetch/x", headers={"Origin": "https://publisher.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = client.options("/api/v1/courses", headers={"Origin": "https://publisher.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in r.headers


def test_tincan_launch_and_progress(client, factory):
    played = play_setup(client, factory, builders.tincan())
    out = launch(client, played)
    r = client.get(_path(out["launch_url"]), follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    assert url.startswith("http://testserver/content/") and "/index.html?" in url
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert set(params) == {"endpoint", "auth", "actor", "registration", "activity_id"}
    assert params["activity_id"] == "https://rmtc.example/xapi/crisis-preparedness"
    actor = json.loads(params["actor"])
    assert actor["account"]["name"] == str(played.learner.id) and actor["name"]
    headers = {**X, "Authorization": params["auth"]}
    statement = {"actor": actor, "verb": {"id": ADL + "experienced"}, "object": {"id": params["activity_id"]},
                 "context": {"registration": params["registration"]}}
    assert client.post("/xapi/statements", json=statement, headers=headers).status_code == 200
    reg = client.get(f"/api/v1/registrations/{params['registration']}", headers=played.learner_headers).json()
    assert reg["status"] == "in_progress"
    done = {**statement, "verb": {"id": ADL + "passed"}, "result": {"success": True, "completion": True, "score": {"scaled": 0.9}}}
    assert client.post("/xapi/statements", json=done, headers=headers).status_code == 200
    reg = client.get(f"/api/v1/registrations/{params['registration']}", headers=played.learner_headers).json()
    assert reg["status"] == "passed" and reg["score_scaled"] == pytest.approx(0.9)
    # The credential is limited to the learner and the registration.
    other = {**statement, "context": {"registration": str(uuid.uuid4())}}
    assert client.post("/xapi/statements", json=other, headers=headers).status_code == 403
    stranger = {**statement, "actor": {"mbox": "mailto:x@example.org"}}
    assert client.post("/xapi/statements", json=stranger, headers=headers).status_code == 403
    # Opening the launch URL again gives a new credential and ends the old one.
    r = client.get(_path(out["launch_url"]), follow_redirects=False)
    assert r.status_code == 303
    assert client.post("/xapi/statements", json=statement, headers=headers).status_code == 401
