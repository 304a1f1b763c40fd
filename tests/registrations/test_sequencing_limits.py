"""SCORM 2004 limit conditions: an item's attemptLimit (here from the manifest's
sequencingCollection through IDRef) stops its delivery once reached; a suspended attempt resumes."""

from __future__ import annotations

import json

from tests.packages import builders
from tests.registrations.conftest import launch, play_setup, runtime_base

LIMITED = builders.SCORM2004_MANIFEST.replace(
    '<item identifier="MOD2" identifierref="SCO2" parameters="?chapter=2">\n        <title>Referral</title>',
    '<item identifier="MOD2" identifierref="SCO2" parameters="?chapter=2">\n        <title>Referral</title>'
    '<imsss:sequencing IDRef="common"/>')


def _play(client, played, unit, *, exit_value):
    out = launch(client, played, unit=unit)
    base, _ = runtime_base(client, out["launch_url"])
    entry = client.get(f"{base}/cmi").json()["cmi"]["cmi.entry"]
    body = {"sequence": 1, "terminate": True, "data": {"cmi.exit": exit_value, "cmi.session_time": "PT1S"}}
    r = client.post(f"{base}/commit", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    return entry


def test_attempt_limit_from_the_sequencing_collection(client, factory):
    assert LIMITED != builders.SCORM2004_MANIFEST
    blob = builders.zip_bytes({"imsmanifest.xml": LIMITED.encode(), "content/res/m1/index.html": builders.HTML,
                               "content/res/m2/start.html": builders.HTML, "content/res/shared/app.js": b"var app;"})
    played = play_setup(client, factory, blob)
    # A suspended attempt is resumed, not counted again.
    assert _play(client, played, "MOD2", exit_value="suspend") == "ab-initio"
    assert _play(client, played, "MOD2", exit_value="normal") == "resume"
    assert _play(client, played, "MOD2", exit_value="normal") == ""
    assert _play(client, played, "MOD2", exit_value="normal") == ""
    # Three attempts (attemptLimit="3" in the collection): MOD2 is no longer delivered, MOD1 is.
    r = client.post(f"/api/v1/modules/{played.module['id']}/launch", json={"unit": "MOD2"}, headers=played.learner_headers)
    assert r.status_code == 403 and "MOD2" in r.json()["detail"]
    other = launch(client, played, unit="MOD1")
    assert other["unit"] == "MOD1" and other["attempt_number"] == 1
    # Without a unit, the launch skips the exhausted item.
    assert launch(client, played)["unit"] != "MOD2"
