"""A published course with a package module, an enrolled learner, and helpers to play it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

from app.core.db import utcnow
from app.packages import service as packages_service
from app.users.models import Role
from tests.catalogue_helpers import make_course
from tests.packages import builders


@dataclass
class Played:
    course: dict
    module: dict
    package_id: str
    staff: dict
    learner: object
    learner_headers: dict


def import_package(client, headers, blob: bytes, package_id: str | None = None) -> dict:
    params = {"filename": "course.zip", **({"package_id": package_id} if package_id else {})}
    r = client.post("/api/v1/packages", content=blob, params=params, headers={**headers, "Content-Type": "application/zip"})
    assert r.status_code == 202, r.text
    version = r.json()
    app = getattr(client, "app", None)  # an in-process app; a live server's own worker imports the package
    if app is not None:
        rt = app.state.runtime
        # The import worker of this test's runtime may have claimed the job already; otherwise import here.
        if packages_service.claim(rt.session_factory, uuid.UUID(version["id"]), utcnow()):
            packages_service.process(rt.session_factory, rt.storage, rt.settings, uuid.UUID(version["id"]))
    url = f"/api/v1/packages/{version['package_id']}/versions/{version['number']}"
    deadline = time.monotonic() + 30
    while (body := client.get(url, headers=headers).json())["status"] not in ("ready", "failed"):
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    assert body["status"] == "ready", body
    return body


def play_setup(client, factory, blob: bytes, **play) -> Played:
    _, ih = factory.signed_in(Role.instructor, "SE")
    course = make_course(client, ih, modules=0, publish=False)
    module = client.post(f"/api/v1/courses/{course['id']}/modules",
                         json={"title": {"en": "Interactive lesson", "sr-Latn": "Interaktivna lekcija"}, "kind": "package",
                               "completion_rule": "completed"}, headers=ih)
    assert module.status_code == 201, module.text
    module = module.json()
    version = import_package(client, ih, blob)
    r = client.put(f"/api/v1/modules/{module['id']}/package", json={"package_id": version["package_id"], **play}, headers=ih)
    assert r.status_code == 200, r.text
    assert client.post(f"/api/v1/courses/{course['id']}/publish", headers=ih).status_code == 200
    learner, lh = factory.signed_in(Role.learner, "ME")
    assert client.post(f"/api/v1/courses/{course['id']}/enrol", headers=lh).status_code == 200
    return Played(course, module, version["package_id"], ih, learner, lh)


def launch(client, played: Played, **body) -> dict:
    r = client.post(f"/api/v1/modules/{played.module['id']}/launch", json=body, headers=played.learner_headers)
    assert r.status_code == 200, r.text
    return r.json()


def runtime_base(client, launch_url: str) -> tuple[str, dict]:
    """Open the player page like a browser and return its run-time base path and config."""
    import json
    import re

    path = launch_url.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200, page.text
    config = json.loads(re.search(r'<script id="rmtc-config" type="application/json">(.*?)</script>', page.text, re.S).group(1))
    return config["runtime"], config


@pytest.fixture
def scorm12_played(client, factory) -> Played:
    return play_setup(client, factory, builders.scorm12())
