"""Package upload, import jobs, versions, delivery and hostile packages, on both storage backends."""

from __future__ import annotations

import time

import httpx
import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.users.models import Role
from tests.conftest import Factory, ServerErrorGuard, make_settings, s3_settings
from tests.packages import builders


@pytest.fixture(params=["local", "s3"])
def pclient(request, tmp_path, database_url):
    """An app on local storage or on S3 (moto server over HTTP), with a fast import worker."""
    fast = {"package_worker_poll_seconds": 0.05}
    if request.param == "local":
        settings = make_settings(tmp_path, database_url, **fast)
    else:
        endpoint = request.getfixturevalue("s3_server")
        settings = s3_settings(tmp_path, endpoint, **fast).model_copy(update={"database_url": database_url})
    guard = ServerErrorGuard()
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        c.event_hooks["response"].append(guard)
        yield c
    assert not guard.errors, guard.errors


@pytest.fixture
def staff(pclient):
    factory = Factory(pclient, None)
    return factory, factory.signed_in(Role.instructor, "SE")[1]


def _upload(client, headers, blob: bytes, content_type="application/zip", **params):
    return client.post("/api/v1/packages", content=blob, params=params, headers={**headers, "Content-Type": content_type})


def _wait(client, headers, version: dict, timeout: float = 20) -> dict:
    url = f"/api/v1/packages/{version['package_id']}/versions/{version['number']}"
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url, headers=headers).json()
        if body["status"] in ("ready", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def _stored(client, prefix: str) -> list[str]:
    return list(client.app.state.runtime.storage.list_keys(prefix))


@pytest.mark.parametrize(
    "blob,standard,launch",
    [
        (builders.scorm12(), "scorm12", "index_lms.html"),
        (builders.scorm12(folder="Storyline Output/"), "scorm12", "index_lms.html"),
        (builders.scorm2004(), "scorm2004", "content/res/m1/index.html"),
        (builders.cmi5(), "cmi5", "au1/index.html?lang=en"),
        (builders.tincan(), "xapi", "index.html"),
    ],
)
def test_each_standard_imports_with_units_and_files(pclient, staff, blob, standard, launch):
    _, h = staff
    r = _upload(pclient, h, blob, filename="course.zip")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.headers["location"].endswith("/versions/1")
    version = _wait(pclient, h, r.json())
    assert version["status"] == "ready", version
    assert version["standard"] == standard and version["units"][0]["launch"] == launch
    assert version["file_count"] >= 2
    files = _stored(pclient, f"packages/{version['package_id']}/v1/")
    assert f"packages/{version['package_id']}/v1/{launch.split('?')[0]}" in files
    assert not any("Storyline Output" in f for f in files)  # the wrapping folder is stripped
    assert _stored(pclient, "uploads/") == []  # the upload is removed after import


def test_bare_cmi5_xml_with_remote_aus(pclient, staff):
    _, h = staff
    xml = builders.CMI5_XML.replace("<url>au1/index.html?lang=en</url>", "<url>https://content.example.org/au1/</url>")
    r = _upload(pclient, h, xml.encode(), content_type="application/xml")
    assert r.status_code == 202, r.text
    version = _wait(pclient, h, r.json())
    assert version["status"] == "ready" and version["source_kind"] == "cmi5-xml"
    assert [u["launch"] for u in version["units"]] == ["https://content.example.org/au1/", "https://content.example.org/au2/"]


@pytest.mark.parametrize(
    "blob,code",
    [
        (builders.zip_slip(), "unsafe-path"),
        (builders.with_symlink(), "symlink"),
        (builders.bomb(16), "compression-ratio"),
        (builders.encrypted_flag(), "encrypted"),
        (builders.zip_bytes({"imsmanifest.xml": builders.XXE.encode(), "index.html": b"x"}), "unsafe-xml"),
        (builders.zip_bytes({"cmi5.xml": builders.BILLION_LAUGHS.encode()}), "unsafe-xml"),
        (builders.zip_bytes({"tincan.xml": builders.XXE.replace("manifest", "tincan").encode()}), "unsafe-xml"),
        (builders.zip_bytes({"index.html": builders.HTML}), "no-manifest"),
        (builders.zip_bytes({"a/imsmanifest.xml": b"<manifest/>", "b/index.html": b"x"}), "no-manifest"),
        (b"this is not a zip", "not-a-zip"),
        (builders.scorm12()[:500], "not-a-zip"),
        (builders.zip_bytes({"imsmanifest.xml": builders.SCORM12_MANIFEST.encode()}), "missing-launch-file"),
    ],
)
def test_hostile_and_broken_packages_are_refused_and_nothing_is_stored(pclient, staff, blob, code):
    _, h = staff
    r = _upload(pclient, h, blob)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "package-refused"
    assert code in {e["code"] for e in problem["report"]["errors"]}
    assert pclient.get("/api/v1/packages", headers=h).json() == []
    assert _stored(pclient, "") == []


def test_multipart_upload_and_new_versions_never_overwrite(pclient, staff):
    _, h = staff
    r = pclient.post("/api/v1/packages", files={"file": ("asylum.zip", builders.scorm12(), "application/zip")}, headers=h)
    assert r.status_code == 202, r.text
    v1 = _wait(pclient, h, r.json())
    assert v1["source_filename"] == "asylum.zip"
    package_id = v1["package_id"]
    v1_files = set(_stored(pclient, f"packages/{package_id}/v1/"))
    r2 = _upload(pclient, h, builders.scorm12(folder="v2/"), package_id=package_id)
    v2 = _wait(pclient, h, r2.json())
    assert v2["number"] == 2 and v2["status"] == "ready"
    assert set(_stored(pclient, f"packages/{package_id}/v1/")) == v1_files
    package = pclient.get(f"/api/v1/packages/{package_id}", headers=h).json()
    assert package["latest_ready_version"] == 2 and [v["number"] for v in package["versions"]] == [1, 2]


def test_direct_upload_then_import(pclient, staff):
    _, h = staff
    r = pclient.post("/api/v1/packages/uploads", json={"filename": "big.zip"}, headers=h)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert pclient.post(plan["import_url"].replace("http://testserver", ""), headers=h).status_code == 409  # nothing uploaded yet
    blob = builders.scorm2004()
    if plan["authenticated"]:
        put = pclient.put(plan["upload_url"].replace("http://testserver", ""), content=blob, headers={**h, "Content-Type": "application/zip"})
    else:
        put = httpx.put(plan["upload_url"], content=blob, headers={"Content-Type": "application/zip"})
    assert put.status_code == 200, put.text
    queued = pclient.post(plan["import_url"].replace("http://testserver", ""), headers=h)
    assert queued.status_code == 202
    version = _wait(pclient, h, queued.json())
    assert version["status"] == "ready" and version["standard"] == "scorm2004"


def test_direct_upload_of_a_hostile_zip_fails_in_the_job_and_leaves_nothing(pclient, staff):
    _, h = staff
    plan = pclient.post("/api/v1/packages/uploads", json={}, headers=h).json()
    blob = builders.zip_slip()
    if plan["authenticated"]:
        pclient.put(plan["upload_url"].replace("http://testserver", ""), content=blob, headers={**h, "Content-Type": "application/zip"})
    else:
        httpx.put(plan["upload_url"], content=blob, headers={"Content-Type": "application/zip"})
    version = _wait(pclient, h, pclient.post(plan["import_url"].replace("http://testserver", ""), headers=h).json())
    assert version["status"] == "failed" and version["report"]["errors"][0]["code"] == "unsafe-path"
    assert _stored(pclient, "") == []


def test_content_delivery_with_signed_paths_ranges_and_headers(pclient, staff):
    _, h = staff
    version = _wait(pclient, h, _upload(pclient, h, builders.scorm12()).json())
    preview = pclient.post(f"/api/v1/packages/{version['package_id']}/versions/1/preview", headers=h).json()
    url = preview["units"][0]["url"].replace("http://testserver", "")
    page = pclient.get(url)
    assert page.status_code == 200 and page.content == builders.HTML
    assert page.headers["content-type"].startswith("text/html") and page.headers["x-content-type-options"] == "nosniff"
    base = url.rsplit("/", 1)[0]
    js = pclient.get(base + "/story_content/data.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    video = base + "/story_content/media/intro.mp4"
    part = pclient.get(video, headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == b"ftypmp42" and part.headers["content-range"] == "bytes 4-11/2012"
    assert pclient.get(video, headers={"Range": "bytes=-16"}).content == b"\x00" * 16
    assert pclient.get(video, headers={"Range": "bytes=5000-"}).status_code == 416
    assert pclient.head(video).headers["content-length"] == "2012"
    token = url.split("/")[2]
    assert pclient.get(base + "/../../../uploads/x").status_code == 404
    assert pclient.get(base + "/missing.html").status_code == 404
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert pclient.get(f"/content/{forged}/index_lms.html").status_code == 404
    assert pclient.get("/content/garbage/index_lms.html").status_code == 404


def test_expired_content_token_is_404(pclient, staff):
    from app.packages import service

    _, h = staff
    version = _wait(pclient, h, _upload(pclient, h, builders.tincan()).json())
    settings = pclient.app.state.runtime.settings
    signer = service.content_signer(settings)
    expired = signer.sign({"v": version["id"], "u": "x", "a": None}, ttl_seconds=-10)
    assert pclient.get(f"/content/{expired}/index.html").status_code == 404
    fresh = signer.sign({"v": version["id"], "u": "x", "a": None}, ttl_seconds=60)
    assert pclient.get(f"/content/{fresh}/index.html").status_code == 200


def test_delete_removes_rows_and_then_objects(pclient, staff):
    _, h = staff
    version = _wait(pclient, h, _upload(pclient, h, builders.cmi5()).json())
    assert _stored(pclient, f"packages/{version['package_id']}/")
    assert pclient.delete(f"/api/v1/packages/{version['package_id']}", headers=h).status_code == 204
    assert pclient.get(f"/api/v1/packages/{version['package_id']}", headers=h).status_code == 404
    assert _stored(pclient, f"packages/{version['package_id']}/") == []


def test_only_staff_see_packages_and_owners_change_them(pclient, staff):
    factory, h = staff
    version = _wait(pclient, h, _upload(pclient, h, builders.tincan()).json())
    pid = version["package_id"]
    for role in (Role.learner, Role.coordinator):
        _, other = factory.signed_in(role, "RS")
        assert pclient.get(f"/api/v1/packages/{pid}", headers=other).status_code == 404
        assert pclient.get("/api/v1/packages", headers=other).status_code == 404
        assert _upload(pclient, other, builders.tincan()).status_code == 403
    _, other_instructor = factory.signed_in(Role.instructor, "AT")
    assert pclient.get(f"/api/v1/packages/{pid}", headers=other_instructor).status_code == 200
    assert pclient.delete(f"/api/v1/packages/{pid}", headers=other_instructor).status_code == 403
    assert _upload(pclient, other_instructor, builders.tincan(), package_id=pid).status_code == 403


def test_attach_a_package_to_a_module(pclient, staff):
    from tests.catalogue_helpers import make_course

    _, h = staff
    version = _wait(pclient, h, _upload(pclient, h, builders.scorm12()).json())
    course = make_course(pclient, h, modules=0, publish=False)
    module = pclient.post(f"/api/v1/courses/{course['id']}/modules", json={"title": {"en": "SCORM lesson"}, "kind": "package"}, headers=h).json()
    r = pclient.put(f"/api/v1/modules/{module['id']}/package", json={"package_id": version["package_id"]}, headers=h)
    assert r.status_code == 200
    assert pclient.delete(f"/api/v1/packages/{version['package_id']}", headers=h).status_code == 409


def test_upload_limits_are_enforced_early(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, package_max_bytes=50_000, package_max_files=3)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        factory = Factory(c, settings)
        _, h = factory.signed_in(Role.admin)
        too_big = c.post("/api/v1/packages", content=b"PK" + b"\0" * 60_000, headers={**h, "Content-Type": "application/zip"})
        assert too_big.status_code == 413
        many = builders.zip_bytes({"imsmanifest.xml": builders.SCORM12_MANIFEST.encode(), **{f"f{i}.html": b"x" for i in range(5)}})
        r = c.post("/api/v1/packages", content=many, headers={**h, "Content-Type": "application/zip"})
        assert r.status_code == 422 and r.json()["report"]["errors"][0]["code"] == "too-many-files"
        assert c.post("/api/v1/packages", content=b"x", headers={**h, "Content-Type": "image/png"}).status_code == 415
        assert list(c.app.state.runtime.storage.list_keys("")) == []
