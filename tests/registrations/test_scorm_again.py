"""A frontend running scorm-again instead of the player page: the launch response's runtime_url
and content_url, initial data, and scorm-again's commit bodies (JSON, flattened, beacon, final)."""

from __future__ import annotations

import json

from tests.registrations.conftest import launch


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_scorm_again_contract(client, scorm12_played):
    played = scorm12_played
    out = launch(client, played)
    assert out["runtime_url"].startswith("http://testserver/runtime/")
    assert out["content_url"].startswith("http://testserver/content/") and out["content_url"].endswith("index_lms.html")
    assert client.get(_path(out["content_url"])).status_code == 200
    base = _path(out["runtime_url"])
    initial = client.get(f"{base}/cmi").json()
    assert initial["scorm"] == "1.2" and initial["cmi"]["cmi.core.entry"] == "ab-initio"
    # scorm-again's default nested JSON with its commit sequence...
    nested = {"cmi": {"core": {"lesson_status": "incomplete", "lesson_location": "slide-3", "exit": "suspend",
                               "session_time": "0000:00:03"}, "suspend_data": "state-1"}, "commitSequence": 1}
    r = client.post(f"{base}/commit", json=nested)
    assert r.status_code == 200 and r.json() == {"result": True, "errorCode": 0}
    # ...a late, older commit changes nothing...
    assert client.post(f"{base}/commit", json={"cmi.core.lesson_location": "slide-1", "commitSequence": 0}).status_code == 200
    # ...and the final data as a navigator.sendBeacon text/plain body, flattened.
    final = {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "95", "cmi.core.session_time": "0000:00:05",
             "cmi.core.exit": "", "commitSequence": 2}
    r = client.post(f"{base}/commit", params={"final": "true"}, content=json.dumps(final),
                    headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 200, r.text
    reg = client.get(f"/api/v1/registrations/{out['registration_id']}", headers=played.learner_headers).json()
    assert reg["status"] == "passed" and reg["attempts"][0]["total_time_seconds"] == 5
    # A commit breaking the data model is refused with the SCORM error code, changing nothing.
    again = launch(client, played)
    bad = client.post(f"{_path(again['runtime_url'])}/commit", json={"cmi.core.lesson_status": "done", "commitSequence": 1})
    assert bad.status_code == 400 and bad.json()["result"] is False and bad.json()["errorCode"] == 405
