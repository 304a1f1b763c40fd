"""The Statement resource: storing, immutability, voiding, queries, formats, versions, auth."""

from __future__ import annotations

import json
import uuid

from app.users.models import Role
from tests.xapi.conftest import V, basic, new_id, statement


def test_about_needs_no_auth_or_version(client):
    r = client.get("/xapi/about")
    assert r.status_code == 200 and set(r.json()["version"]) == {"1.0.3", "2.0.0"}
    # A request naming no version is answered in the latest version (configurable, see below).
    assert r.headers["x-experience-api-version"] == "2.0.0"
    assert client.get("/xapi/about", headers={"X-Experience-API-Version": "1.0.3"}).headers["x-experience-api-version"] == "1.0.3"


def test_default_version_for_requests_naming_none_is_configurable(tmp_path, database_url):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url, xapi_default_version="1.0.3", package_worker_enabled=False)
    with TestClient(create_app(settings)) as c:
        r = c.get("/xapi/statements")
        assert r.status_code == 400 and r.headers["x-experience-api-version"] == "1.0.3"
        assert c.get("/xapi/about").headers["x-experience-api-version"] == "1.0.3"


def test_version_header_is_required_and_checked(client, lrs):
    headers = {k: v for k, v in lrs.items() if k != "X-Experience-API-Version"}
    missing = client.get("/xapi/statements", headers=headers)
    assert missing.status_code == 400 and missing.headers["x-experience-api-version"] == "2.0.0"
    assert missing.headers["x-experience-api-consistent-through"]
    assert client.get("/xapi/statements", headers={**headers, "X-Experience-API-Version": "0.95"}).status_code == 400
    assert client.get("/xapi/statements", headers={**headers, "X-Experience-API-Version": "1.1.0"}).status_code == 400
    ok = client.get("/xapi/statements", headers={**headers, "X-Experience-API-Version": "2.0.0"})
    assert ok.status_code == 200 and ok.headers["x-experience-api-version"] == "2.0.0"


def test_auth_is_required(client):
    r = client.get("/xapi/statements", headers=V)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert client.get("/xapi/statements", headers=basic("nope", "nope")).status_code == 401


def test_post_get_and_server_set_properties(client, lrs):
    r = client.post("/xapi/statements", json=statement(), headers=lrs)
    assert r.status_code == 200
    [sid] = r.json()
    got = client.get(f"/xapi/statements?statementId={sid}", headers=lrs)
    assert got.status_code == 200
    s = got.json()
    assert s["id"] == sid and s["version"] == "1.0.0" and s["stored"] and s["timestamp"]
    assert s["authority"]["account"]["name"].startswith("lrs-client:")
    assert got.headers["last-modified"] and got.headers["x-experience-api-consistent-through"]


def test_authority_is_the_credential_not_what_the_client_sent(client, lrs):
    forged = {"objectType": "Agent", "mbox": "mailto:boss@example.org"}
    [sid] = client.post("/xapi/statements", json=statement(authority=forged), headers=lrs).json()
    assert client.get(f"/xapi/statements?statementId={sid}", headers=lrs).json()["authority"] != forged


def test_put_with_statement_id_and_immutability(client, lrs):
    sid = new_id()
    assert client.put(f"/xapi/statements?statementId={sid}", json=statement(), headers=lrs).status_code == 204
    assert client.put(f"/xapi/statements?statementId={sid}", json=statement(), headers=lrs).status_code == 204  # same: fine
    changed = statement(verb={"id": "http://adlnet.gov/expapi/verbs/failed"})
    assert client.put(f"/xapi/statements?statementId={sid}", json=changed, headers=lrs).status_code == 409
    assert client.post("/xapi/statements", json={**changed, "id": sid}, headers=lrs).status_code == 409
    assert client.put("/xapi/statements", json=statement(), headers=lrs).status_code == 400
    assert client.put(f"/xapi/statements?statementId={sid}", json={**statement(), "id": new_id()}, headers=lrs).status_code == 400


def test_batches_are_all_or_nothing(client, lrs):
    good, bad = statement(id=new_id()), statement(id=new_id(), verb={"id": "not an iri"})
    r = client.post("/xapi/statements", json=[good, bad], headers=lrs)
    assert r.status_code == 400 and "verb.id" in r.json()["detail"]
    assert client.get(f"/xapi/statements?statementId={good['id']}", headers=lrs).status_code == 404
    dup = new_id()
    assert client.post("/xapi/statements", json=[statement(id=dup), statement(id=dup)], headers=lrs).status_code == 400
    ids = client.post("/xapi/statements", json=[statement(), statement()], headers=lrs).json()
    assert len(ids) == 2


def test_invalid_json_and_content_types_are_400(client, lrs):
    assert client.post("/xapi/statements", content=b"{not json", headers={**lrs, "Content-Type": "application/json"}).status_code == 400
    assert client.post("/xapi/statements", content=b"<xml/>", headers={**lrs, "Content-Type": "application/xml"}).status_code == 400
    assert client.post("/xapi/statements", json=[], headers=lrs).status_code == 400
    assert client.get("/xapi/statements?unknown=1", headers=lrs).status_code == 400
    assert client.get("/xapi/statements?limit=-1", headers=lrs).status_code == 400
    assert client.get("/xapi/statements?statementId=abc", headers=lrs).status_code == 400
    assert client.get(f"/xapi/statements?statementId={new_id()}&verb=http://x.org/v", headers=lrs).status_code == 400


def test_voiding(client, lrs):
    [target] = client.post("/xapi/statements", json=statement(), headers=lrs).json()
    voiding = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}, object={"objectType": "StatementRef", "id": target})
    [voider] = client.post("/xapi/statements", json=voiding, headers=lrs).json()
    assert client.get(f"/xapi/statements?statementId={target}", headers=lrs).status_code == 404
    assert client.get(f"/xapi/statements?voidedStatementId={target}", headers=lrs).json()["id"] == target
    listed = [s["id"] for s in client.get("/xapi/statements", headers=lrs).json()["statements"]]
    assert target not in listed and voider in listed
    void_the_voider = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}, object={"objectType": "StatementRef", "id": voider})
    assert client.post("/xapi/statements", json=void_the_voider, headers=lrs).status_code == 400


def test_filters_and_statement_refs(client, lrs):
    reg = new_id()
    a = statement(context={"registration": reg, "contextActivities": {"parent": [{"id": "https://rmtc.example/courses/asylum"}]}})
    [aid] = client.post("/xapi/statements", json=a, headers=lrs).json()
    other = statement(actor={"mbox": "mailto:marko@mup.gov.me"}, verb={"id": "http://adlnet.gov/expapi/verbs/completed"})
    [oid] = client.post("/xapi/statements", json=other, headers=lrs).json()
    ref = statement(actor={"mbox": "mailto:coach@example.org"}, verb={"id": "http://adlnet.gov/expapi/verbs/commented"},
                    object={"objectType": "StatementRef", "id": aid})
    [rid] = client.post("/xapi/statements", json=ref, headers=lrs).json()

    def ids(query: str) -> set[str]:
        r = client.get(f"/xapi/statements?{query}", headers=lrs)
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["statements"]}

    ana = json.dumps({"mbox": "mailto:ana@kirs.gov.rs"})
    assert ids(f"agent={ana}") == {aid, rid}  # rid targets a statement by Ana
    assert ids("verb=http://adlnet.gov/expapi/verbs/completed") == {oid}
    assert ids(f"registration={reg}") == {aid, rid}
    assert ids("activity=https://rmtc.example/courses/asylum") == set()
    assert ids("activity=https://rmtc.example/courses/asylum&related_activities=true") == {aid, rid}
    coach = json.dumps({"mbox": "mailto:coach@example.org"})
    assert ids(f"agent={coach}") == {rid}
    assert client.get("/xapi/statements?agent=notjson", headers=lrs).status_code == 400


def test_paging_with_more_is_stable_and_complete(client, lrs):
    sent = client.post("/xapi/statements", json=[statement() for _ in range(7)], headers=lrs).json()
    seen = []
    page = client.get("/xapi/statements?limit=3&ascending=true", headers=lrs).json()
    seen += [s["id"] for s in page["statements"]]
    client.post("/xapi/statements", json=statement(), headers=lrs)  # arrives while paging
    while page["more"]:
        page = client.get(page["more"], headers=lrs).json()
        seen += [s["id"] for s in page["statements"]]
    assert seen[:7] == sent and len(seen) == len(set(seen)) == 8


def test_formats(client, lrs):
    s = statement(verb={"id": "http://adlnet.gov/expapi/verbs/attempted", "display": {"en-US": "attempted", "sr-Latn": "pokušao"}})
    [sid] = client.post("/xapi/statements", json=s, headers=lrs).json()
    ids = client.get(f"/xapi/statements?statementId={sid}&format=ids", headers=lrs).json()
    assert ids["verb"] == {"id": s["verb"]["id"]} and "definition" not in ids["object"] and "name" not in ids["actor"]
    canonical = client.get(f"/xapi/statements?statementId={sid}&format=canonical", headers={**lrs, "Accept-Language": "sr-Latn"}).json()
    assert canonical["verb"]["display"] == {"sr-Latn": "pokušao"}
    assert client.get(f"/xapi/statements?statementId={sid}&format=weird", headers=lrs).status_code == 400


def test_head_and_since_until(client, lrs):
    first = client.post("/xapi/statements", json=statement(), headers=lrs)
    stored = client.get(f"/xapi/statements?statementId={first.json()[0]}", headers=lrs).json()["stored"]
    client.post("/xapi/statements", json=statement(), headers=lrs)
    head = client.head("/xapi/statements", headers=lrs)
    assert head.status_code == 200 and head.content == b""
    after = client.get(f"/xapi/statements?since={stored}", headers=lrs).json()["statements"]
    assert len(after) == 1
    until = client.get(f"/xapi/statements?until={stored}", headers=lrs).json()["statements"]
    assert [s["id"] for s in until] == first.json()
    assert client.get("/xapi/statements?since=yesterday", headers=lrs).status_code == 400


def test_learner_jwt_reads_and_writes_only_their_own_statements(client, factory, lrs):
    learner, h = factory.signed_in(Role.learner, "RS")
    lh = {**h, **V}
    mine = statement(actor={"mbox": f"mailto:{learner.email}"})
    r = client.post("/xapi/statements", json=mine, headers=lh)
    assert r.status_code == 200, r.text
    assert client.post("/xapi/statements", json=statement(), headers=lh).status_code == 403  # someone else's actor
    client.post("/xapi/statements", json=statement(), headers=lrs)
    listed = client.get("/xapi/statements", headers=lh).json()["statements"]
    assert [s["id"] for s in listed] == r.json()
    # The coordinator of the learner's country reads it; another country's does not.
    _, rs_coord = factory.signed_in(Role.coordinator, "RS")
    _, me_coord = factory.signed_in(Role.coordinator, "ME")
    assert [s["id"] for s in client.get("/xapi/statements", headers={**rs_coord, **V}).json()["statements"]] == r.json()
    assert client.get("/xapi/statements", headers={**me_coord, **V}).json()["statements"] == []
    assert client.get(f"/xapi/statements?statementId={r.json()[0]}", headers={**me_coord, **V}).status_code == 404
    assert client.post("/xapi/statements", json=statement(), headers={**rs_coord, **V}).status_code == 403


def test_scoped_clients(client, factory, lrs):
    _, admin_h = factory.signed_in(Role.admin)
    writer = client.post("/api/v1/lrs/clients", json={"name": "authoring preview", "scopes": ["statements/write", "statements/read/mine"]}, headers=admin_h).json()
    reader = client.post("/api/v1/lrs/clients", json={"name": "dashboard", "scopes": ["statements/read"]}, headers=admin_h).json()
    wh, rh = basic(writer["key"], writer["secret"]), basic(reader["key"], reader["secret"])
    [mine] = client.post("/xapi/statements", json=statement(), headers=wh).json()
    client.post("/xapi/statements", json=statement(), headers=lrs)
    assert [s["id"] for s in client.get("/xapi/statements", headers=wh).json()["statements"]] == [mine]
    assert len(client.get("/xapi/statements", headers=rh).json()["statements"]) == 2
    assert client.post("/xapi/statements", json=statement(), headers=rh).status_code == 403
    assert client.post(f"/api/v1/lrs/clients/{reader['id']}/revoke", headers=admin_h).status_code == 200
    assert client.get("/xapi/statements", headers=rh).status_code == 401
    assert client.post("/api/v1/lrs/clients", json={"name": "x", "scopes": ["everything"]}, headers=admin_h).status_code == 422
    _, coord_h = factory.signed_in(Role.coordinator)
    assert client.post("/api/v1/lrs/clients", json={"name": "x", "scopes": ["all"]}, headers=coord_h).status_code == 403


def test_attachments_multipart_roundtrip(client, lrs):
    import hashlib

    data = "Potvrda o pohađanju — certificate".encode()
    sha = hashlib.sha256(data).hexdigest()
    s = statement(attachments=[{"usageType": "https://rmtc.example/attachments/certificate", "display": {"en": "Certificate"},
                                "contentType": "text/plain", "length": len(data), "sha2": sha}])
    boundary = "abcXYZ"
    body = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(s)}\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha}\r\n\r\n").encode() + data + f"\r\n--{boundary}--".encode()
    r = client.post("/xapi/statements", content=body, headers={**lrs, "Content-Type": f'multipart/mixed; boundary="{boundary}"'})
    assert r.status_code == 200, r.text
    [sid] = r.json()
    got = client.get(f"/xapi/statements?statementId={sid}&attachments=true", headers=lrs)
    assert got.headers["content-type"].startswith("multipart/mixed") and data in got.content
    missing = statement(attachments=s["attachments"])
    assert client.post("/xapi/statements", json=missing, headers=lrs).status_code == 400
    wrong = body.replace(data, b"tampered content here!!")
    assert client.post("/xapi/statements", content=wrong, headers={**lrs, "Content-Type": f'multipart/mixed; boundary="{boundary}"'}).status_code == 400


def test_file_url_attachments_with_or_without_a_part(client, lrs):
    import hashlib

    data = b"Standard operating procedures, annex 3"
    sha = hashlib.sha256(data).hexdigest()
    attachment = {"usageType": "https://rmtc.example/attachments/annex", "display": {"en": "Annex"}, "contentType": "text/plain",
                  "length": len(data), "sha2": sha, "fileUrl": "https://rmtc.example/files/annex-3.txt"}
    # Only a fileUrl: the bytes stay where they are.
    r = client.post("/xapi/statements", json=statement(attachments=[attachment]), headers=lrs)
    assert r.status_code == 200, r.text
    # A fileUrl and the bytes as a part: both are kept, and the part is returned with attachments=true.
    s = statement(attachments=[attachment])
    boundary = "-------314159265358979323846"
    body = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(s)}\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    r = client.post("/xapi/statements", content=body, headers={**lrs, "Content-Type": f"multipart/mixed; boundary={boundary}"})
    assert r.status_code == 200, r.text
    got = client.get(f"/xapi/statements?statementId={r.json()[0]}&attachments=true", headers=lrs)
    assert got.status_code == 200 and data in got.content


def test_alternate_request_syntax_for_1_0_and_not_2_0(client, lrs):
    from urllib.parse import urlencode

    sid = new_id()
    form = {"Authorization": lrs["Authorization"], "X-Experience-API-Version": "1.0.3", "Content-Type": "application/json",
            "content": json.dumps(statement()), "statementId": sid}
    r = client.post("/xapi/statements?method=PUT", content=urlencode(form), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 204, r.text
    assert client.get(f"/xapi/statements?statementId={sid}", headers=lrs).status_code == 200
    form["X-Experience-API-Version"] = "2.0.0"
    r2 = client.post("/xapi/statements?method=PUT", content=urlencode(form), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r2.status_code == 400
