"""State, Activity Profile and Agent Profile resources; Activities and Agents resources."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from urllib.parse import urlencode

from app.users.models import Role
from tests.xapi.conftest import basic, statement

AGENT = {"objectType": "Agent", "mbox": "mailto:marko@mup.gov.me", "name": "Marko"}
ACTIVITY = "https://rmtc.example/activities/return-counselling"
REGISTRATION = "6b0b6b39-4b56-4d3c-9b36-2d8b7a1b0c11"


def state_url(state_id: str | None = "bookmark", **extra) -> str:
    params = {"activityId": ACTIVITY, "agent": json.dumps(AGENT), **extra}
    if state_id:
        params["stateId"] = state_id
    return "/xapi/activities/state?" + urlencode(params)


def test_state_put_get_etag_merge_and_delete(client, lrs):
    url = state_url(registration=REGISTRATION)
    r = client.put(url, json={"page": 3, "lang": "sr-Cyrl"}, headers=lrs)
    assert r.status_code == 204
    got = client.get(url, headers=lrs)
    assert got.status_code == 200 and got.json() == {"page": 3, "lang": "sr-Cyrl"}
    etag = got.headers["etag"]
    assert etag == f'"{hashlib.sha1(got.content).hexdigest()}"' and got.headers["last-modified"]
    # POST merges JSON objects, the posted properties win.
    assert client.post(url, json={"page": 4, "done": False}, headers=lrs).status_code == 204
    assert client.get(url, headers=lrs).json() == {"page": 4, "lang": "sr-Cyrl", "done": False}
    # A registration is part of the key: the same stateId without it is another document.
    assert client.get(state_url(), headers=lrs).status_code == 404
    # HEAD answers like GET without a body.
    head = client.head(url, headers=lrs)
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"]
    assert client.delete(url, headers=lrs).status_code == 204
    assert client.get(url, headers=lrs).status_code == 404


def test_state_lists_ids_with_since_and_deletes_all(client, lrs):
    for state_id in ("a", "b"):
        assert client.put(state_url(state_id), json={"x": state_id}, headers=lrs).status_code == 204
    time.sleep(0.01)
    mark = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    time.sleep(0.01)
    assert client.put(state_url("c"), json={"x": "c"}, headers=lrs).status_code == 204
    assert sorted(client.get(state_url(None), headers=lrs).json()) == ["a", "b", "c"]
    assert client.get(state_url(None, since=mark), headers=lrs).json() == ["c"]
    assert client.get(state_url(None, since="yesterday"), headers=lrs).status_code == 400
    # DELETE without stateId removes every state of the agent and activity.
    assert client.delete(state_url(None), headers=lrs).status_code == 204
    assert client.get(state_url(None), headers=lrs).json() == []


def test_state_parameters_are_checked(client, lrs):
    assert client.put("/xapi/activities/state?" + urlencode({"activityId": ACTIVITY, "stateId": "s"}), json={}, headers=lrs).status_code == 400
    assert client.put(state_url(registration="not-a-uuid"), json={}, headers=lrs).status_code == 400
    bad_agent = "/xapi/activities/state?" + urlencode({"activityId": ACTIVITY, "agent": '{"name": "no ifi"}', "stateId": "s"})
    assert client.put(bad_agent, json={}, headers=lrs).status_code == 400
    assert client.put("/xapi/activities/state?" + urlencode({"activityId": "not an iri", "agent": json.dumps(AGENT), "stateId": "s"}),
                      json={}, headers=lrs).status_code == 400
    assert client.put(state_url(stray="1"), json={}, headers=lrs).status_code == 400


def test_state_concurrency_differs_between_versions(client, lrs):
    v2 = {**lrs, "X-Experience-API-Version": "2.0.0"}
    # 1.0.3: State PUTs need no precondition headers.
    assert client.put(state_url("v1"), json={"n": 1}, headers=lrs).status_code == 204
    assert client.put(state_url("v1"), json={"n": 2}, headers=lrs).status_code == 204
    # 2.0: a new document may be created without them; an existing one is 409 without them.
    assert client.put(state_url("v2"), json={"n": 1}, headers=v2).status_code == 204
    conflict = client.put(state_url("v2"), json={"n": 2}, headers=v2)
    assert conflict.status_code == 409 and "If-Match" in conflict.json()["detail"]
    etag = client.get(state_url("v2"), headers=v2).headers["etag"]
    assert client.put(state_url("v2"), json={"n": 3}, headers={**v2, "If-Match": etag}).status_code == 204
    assert client.get(state_url("v2"), headers=v2).json() == {"n": 3}


def test_preconditions_give_412_and_leave_the_document(client, lrs):
    url = state_url("guarded")
    assert client.put(url, json={"v": 1}, headers={**lrs, "If-None-Match": "*"}).status_code == 204
    assert client.put(url, json={"v": 2}, headers={**lrs, "If-None-Match": "*"}).status_code == 412
    assert client.put(url, json={"v": 2}, headers={**lrs, "If-Match": '"0000"'}).status_code == 412
    assert client.post(url, json={"v": 2}, headers={**lrs, "If-Match": '"0000"'}).status_code == 412
    assert client.delete(url, headers={**lrs, "If-Match": '"0000"'}).status_code == 412
    assert client.get(url, headers=lrs).json() == {"v": 1}
    assert client.put(state_url("absent"), json={}, headers={**lrs, "If-Match": "*"}).status_code == 412


def test_post_merge_needs_json_objects_on_both_sides(client, lrs):
    url = state_url("merge")
    assert client.post(url, content=b"[1, 2]", headers={**lrs, "Content-Type": "application/json"}).status_code == 400
    assert client.post(url, content=b"{broken", headers={**lrs, "Content-Type": "application/json"}).status_code == 400
    assert client.put(url, content=b"\x89PNG binary", headers={**lrs, "Content-Type": "image/png"}).status_code == 204
    assert client.post(url, json={"a": 1}, headers=lrs).status_code == 400
    got = client.get(url, headers=lrs)
    assert got.content == b"\x89PNG binary" and got.headers["content-type"] == "image/png"


def test_profiles_require_concurrency_headers(client, lrs):
    url = "/xapi/activities/profile?" + urlencode({"activityId": ACTIVITY, "profileId": "glossary"})
    assert client.put(url, json={"asylum": "azil"}, headers=lrs).status_code == 400
    assert client.put(url, json={"asylum": "azil"}, headers={**lrs, "If-None-Match": "*"}).status_code == 204
    conflict = client.put(url, json={"asylum": "азил"}, headers=lrs)
    assert conflict.status_code == 409
    assert client.get(url, headers=lrs).json() == {"asylum": "azil"}
    etag = client.get(url, headers=lrs).headers["etag"]
    assert client.put(url, json={"asylum": "азил"}, headers={**lrs, "If-Match": etag}).status_code == 204
    assert client.get(url, headers=lrs).json() == {"asylum": "азил"}
    ids = client.get("/xapi/activities/profile?" + urlencode({"activityId": ACTIVITY}), headers=lrs)
    assert ids.json() == ["glossary"]

    agent_url = "/xapi/agents/profile?" + urlencode({"agent": json.dumps(AGENT), "profileId": "preferences"})
    assert client.put(agent_url, json={"language": "sr-Latn"}, headers={**lrs, "If-None-Match": "*"}).status_code == 204
    assert client.post(agent_url, json={"font": "large"}, headers=lrs).status_code == 204
    assert client.get(agent_url, headers=lrs).json() == {"language": "sr-Latn", "font": "large"}
    assert client.put("/xapi/agents/profile?" + urlencode({"profileId": "p"}), json={}, headers=lrs).status_code == 400


def test_learners_reach_only_their_own_documents(client, factory, lrs):
    learner, lh = factory.signed_in(Role.learner, "MK")
    xh = {**lh, "X-Experience-API-Version": "1.0.3"}
    own = {"objectType": "Agent", "account": {"homePage": "http://testserver", "name": str(learner.id)}}
    own_url = "/xapi/activities/state?" + urlencode({"activityId": ACTIVITY, "agent": json.dumps(own), "stateId": "s"})
    assert client.put(own_url, json={"ok": True}, headers=xh).status_code == 204
    assert client.get(own_url, headers=xh).json() == {"ok": True}
    assert client.put(state_url("s"), json={}, headers=xh).status_code == 403
    assert client.put(state_url("s"), json={"theirs": True}, headers=lrs).status_code == 204
    assert client.get(state_url("s"), headers=xh).status_code == 403


def test_activities_and_agents_resources(client, factory, lrs):
    s = statement(object={"id": ACTIVITY, "definition": {"name": {"en": "Return counselling"}}})
    assert client.post("/xapi/statements", json=s, headers=lrs).status_code == 200
    s2 = statement(object={"id": ACTIVITY, "definition": {"name": {"sr-Cyrl": "Саветовање о повратку"}, "type": "http://adlnet.gov/expapi/activities/lesson"}})
    assert client.post("/xapi/statements", json=s2, headers=lrs).status_code == 200
    act = client.get("/xapi/activities?" + urlencode({"activityId": ACTIVITY}), headers=lrs).json()
    assert act["definition"]["name"] == {"en": "Return counselling", "sr-Cyrl": "Саветовање о повратку"}
    assert act["definition"]["type"] == "http://adlnet.gov/expapi/activities/lesson"
    unknown = client.get("/xapi/activities?" + urlencode({"activityId": "https://rmtc.example/none"}), headers=lrs)
    assert unknown.status_code == 200 and unknown.json() == {"objectType": "Activity", "id": "https://rmtc.example/none"}
    assert client.get("/xapi/activities", headers=lrs).status_code == 400
    person = client.get("/xapi/agents?" + urlencode({"agent": json.dumps(AGENT)}), headers=lrs).json()
    assert person == {"objectType": "Person", "name": ["Marko"], "mbox": ["mailto:marko@mup.gov.me"]}
    # A platform user's Person joins their account and e-mail identifiers.
    user, _ = factory.signed_in(Role.learner, "BA")
    p = client.get("/xapi/agents?" + urlencode({"agent": json.dumps({"mbox": f"mailto:{user.email}"})}), headers=lrs).json()
    assert {"homePage": "http://testserver", "name": str(user.id)} in p["account"]
    assert client.get("/xapi/agents?" + urlencode({"agent": "{}"}), headers=lrs).status_code == 400


def test_durations_compare_to_hundredths(client, lrs):
    sid = "0f0b7c2e-7f7b-4f4a-8c51-6f0c3bb1a001"
    first = statement(result={"duration": "PT1M2.3456S"})
    assert client.put(f"/xapi/statements?statementId={sid}", json=first, headers=lrs).status_code == 204
    # Same to the hundredth of a second: the same statement; different hundredths: a conflict.
    assert client.put(f"/xapi/statements?statementId={sid}", json=statement(result={"duration": "PT1M2.34S"}), headers=lrs).status_code == 204
    assert client.put(f"/xapi/statements?statementId={sid}", json=statement(result={"duration": "PT1M2.35S"}), headers=lrs).status_code == 409


def test_documents_need_the_state_or_profile_scope(client, factory):
    _, admin_h = factory.signed_in(Role.admin)
    r = client.post("/api/v1/lrs/clients", json={"name": "reader", "scopes": ["statements/read"]}, headers=admin_h)
    rh = basic(r.json()["key"], r.json()["secret"])
    assert client.put(state_url("x"), json={}, headers=rh).status_code == 403
    assert client.get(state_url("x"), headers=rh).status_code == 403
