"""SCORM 2004 shared data (adl.data): buckets mapped by items of the manifest, written by one SCO
and read by another, with readSharedData / writeSharedData honoured on the server and the player."""

from __future__ import annotations

import json
import uuid

from app.registrations.models import Registration
from tests.packages import builders
from tests.registrations.conftest import launch, play_setup, runtime_base

NOTES, SECRET = "urn:rmtc:shared:notes", "urn:rmtc:shared:secret"
MANIFEST = builders.SCORM2004_MANIFEST.replace(
    '<item identifier="MOD2" identifierref="SCO2" parameters="?chapter=2">\n        <title>Referral</title>',
    '<item identifier="MOD2" identifierref="SCO2" parameters="?chapter=2">\n        <title>Referral</title>'
    f'<adlcp:data><adlcp:map targetID="{NOTES}" writeSharedData="false"/>'
    f'<adlcp:map targetID="{SECRET}" readSharedData="false"/></adlcp:data>')


def _commit(client, base, seq, data, terminate=False):
    return client.post(f"{base}/commit", content=json.dumps({"sequence": seq, "terminate": terminate, "data": data}),
                       headers={"Content-Type": "application/json"})


def test_shared_data_between_scos(client, factory, db):
    assert MANIFEST != builders.SCORM2004_MANIFEST
    blob = builders.zip_bytes({"imsmanifest.xml": MANIFEST.encode(), "content/res/m1/index.html": builders.HTML,
                               "content/res/m2/start.html": builders.HTML, "content/res/shared/app.js": b"var app;"})
    played = play_setup(client, factory, blob)
    out = launch(client, played, unit="MOD1")
    base, config = runtime_base(client, out["launch_url"])
    assert config["hidden"] == [] and config["locked"] == []
    cmi = client.get(f"{base}/cmi").json()["cmi"]
    assert cmi["adl.data.0.id"] == NOTES and cmi["adl.data.0.store"] == ""
    assert _commit(client, base, 1, {"adl.data.0.store": "Met at the border crossing"}, terminate=True).status_code == 200
    # The second SCO reads the bucket but may not write it; the secret bucket it writes but cannot read.
    base2, config2 = runtime_base(client, launch(client, played, unit="MOD2")["launch_url"])
    assert config2["hidden"] == ["adl.data.1.store"] and config2["locked"] == ["adl.data.0.store"]
    cmi = client.get(f"{base2}/cmi").json()["cmi"]
    assert cmi["adl.data.0.store"] == "Met at the border crossing"
    assert cmi["adl.data.1.id"] == SECRET and "adl.data.1.store" not in cmi
    refused = _commit(client, base2, 1, {"adl.data.0.store": "overwritten"})
    assert refused.status_code == 400 and refused.json()["errorCode"] == 404
    assert _commit(client, base2, 2, {"adl.data.1.store": "case 17"}, terminate=True).status_code == 200
    registration = db.get(Registration, uuid.UUID(out["registration_id"]))
    assert registration.shared_data == {NOTES: "Met at the border crossing", SECRET: "case 17"}
    # Back in the first SCO: its bucket kept the value.
    base3, _ = runtime_base(client, launch(client, played, unit="MOD1")["launch_url"])
    assert client.get(f"{base3}/cmi").json()["cmi"]["adl.data.0.store"] == "Met at the border crossing"
