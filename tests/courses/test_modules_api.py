"""Modules: ordering, completion rules, resource files and cover images through storage."""

from __future__ import annotations

import pytest

from app.users.models import Role
from tests.catalogue_helpers import make_course

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def teacher(factory):
    return factory.signed_in(Role.instructor, "SE")


def test_modules_are_ordered_and_reordered(client, teacher):
    _, h = teacher
    course = make_course(client, h, modules=3, publish=False)
    ids = [m["id"] for m in course["modules"]]
    assert [m["position"] for m in course["modules"]] == [1, 2, 3]
    r = client.put(f"/api/v1/courses/{course['id']}/modules/order", json={"module_ids": [ids[2], ids[0], ids[1]]}, headers=h)
    assert r.status_code == 200
    again = client.get(f"/api/v1/courses/{course['id']}", headers=h).json()
    assert [m["id"] for m in again["modules"]] == [ids[2], ids[0], ids[1]]
    for bad in ([ids[0], ids[1]], [ids[0], ids[0], ids[1]], [ids[0], ids[1], ids[2], ids[2]]):
        assert client.put(f"/api/v1/courses/{course['id']}/modules/order", json={"module_ids": bad}, headers=h).status_code == 422
    assert client.delete(f"/api/v1/modules/{ids[0]}", headers=h).status_code == 204
    left = client.get(f"/api/v1/courses/{course['id']}", headers=h).json()["modules"]
    assert [(m["id"], m["position"]) for m in left] == [(ids[2], 1), (ids[1], 2)]


def test_module_kinds_rules_and_defaults(client, teacher):
    _, h = teacher
    course = make_course(client, h, modules=0, publish=False)
    url = f"/api/v1/courses/{course['id']}/modules"
    pkg = client.post(url, json={"title": {"en": "SCORM"}, "kind": "package"}, headers=h).json()
    quiz = client.post(url, json={"title": {"en": "Quiz"}, "kind": "assessment", "required": False}, headers=h).json()
    assert pkg["completion_rule"] == "completed" and quiz["completion_rule"] == "passed" and not quiz["required"]
    scored = client.post(url, json={"title": {"en": "S"}, "kind": "package", "completion_rule": "score", "min_score": 0.8}, headers=h)
    assert scored.status_code == 201 and scored.json()["min_score"] == 0.8
    assert client.post(url, json={"title": {"en": "S"}, "kind": "package", "completion_rule": "score"}, headers=h).status_code == 422
    assert client.post(url, json={"title": {"en": "S"}, "kind": "video"}, headers=h).status_code == 422
    assert client.post(url, json={"title": {"en": "S"}, "kind": "package", "min_score": 1.5}, headers=h).status_code == 422
    assert client.post(url, json={"title": {"en": "S"}, "kind": "package", "resource_url": "https://x.org"}, headers=h).status_code == 422
    assert client.patch(f"/api/v1/modules/{pkg['id']}", json={"completion_rule": "score"}, headers=h).status_code == 422


def test_resource_file_upload_and_download(client, factory, teacher):
    _, h = teacher
    course = make_course(client, h, modules=1)
    module = course["modules"][0]
    data = "Priručnik za azil — Руководство\n".encode() * 1000
    r = client.put(f"/api/v1/modules/{module['id']}/file?filename=priručnik azila.txt", content=data,
                   headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert r.json()["resource"]["size"] == len(data) and not r.json()["resource"]["external"]
    got = client.get(f"/api/v1/modules/{module['id']}/file", headers=h)
    assert got.status_code == 200 and got.content == data
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in got.headers["content-disposition"]
    # A learner must be enrolled to download.
    learner, lh = factory.signed_in(Role.learner, "RS")
    assert client.get(f"/api/v1/modules/{module['id']}/file", headers=lh).status_code == 404
    assert client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh).status_code == 200
    assert client.get(f"/api/v1/modules/{module['id']}/file", headers=lh).content == data
    # Replacing the file removes the old object once the change is committed.
    storage = client.app.state.runtime.storage
    before = set(storage.list_keys(f"courses/{course['id']}/"))
    client.put(f"/api/v1/modules/{module['id']}/file?filename=v2.txt", content=b"second version", headers={**h, "Content-Type": "text/plain"})
    after = set(storage.list_keys(f"courses/{course['id']}/"))
    assert len(before) == len(after) == 1 and before != after


def test_cover_image_checks_type_and_bytes(client, factory, teacher):
    _, h = teacher
    course = make_course(client, h)
    url = f"/api/v1/courses/{course['id']}/cover"
    assert client.put(url, content=b"not an image", headers={**h, "Content-Type": "image/png"}).status_code == 415
    assert client.put(url, content=PNG, headers={**h, "Content-Type": "text/html"}).status_code == 415
    r = client.put(url, content=PNG, headers={**h, "Content-Type": "image/png"})
    assert r.status_code == 200 and r.json()["cover_url"].endswith("/cover")
    _, lh = factory.signed_in(Role.learner, "BA")
    got = client.get(url, headers=lh)
    assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
    big = client.put(url, content=b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024), headers={**h, "Content-Type": "image/png"})
    assert big.status_code == 413
    assert client.get(url, headers=lh).content == PNG  # unchanged


def test_deleting_a_module_with_progress_is_refused(client, factory, teacher):
    _, h = teacher
    course = make_course(client, h, modules=2)
    _, lh = factory.signed_in(Role.learner, "RS")
    client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh)
    client.post(f"/api/v1/modules/{course['modules'][0]['id']}/viewed", headers=lh)
    assert client.delete(f"/api/v1/modules/{course['modules'][0]['id']}", headers=h).status_code == 409
    assert client.delete(f"/api/v1/modules/{course['modules'][1]['id']}", headers=h).status_code == 204
