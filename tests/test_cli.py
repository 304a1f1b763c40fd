"""The `rmtc` command line, run as a real process; `rmtc serve` answers real HTTP on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from app.dbmigrate import ROOT
from tests.conftest import PG_URL

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent

RMTC = [sys.executable, "-m", "app.cli"]


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMTC_")}
    env.update(
        RMTC_DATA_DIR=str(tmp_path / "data"),
        RMTC_ARGON2_TIME_COST="1",
        RMTC_ARGON2_MEMORY_COST_KIB="1024",
        RMTC_ARGON2_PARALLELISM="1",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def _run(args, env, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([*RMTC, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_is_idempotent_and_serve_answers_real_http(tmp_path):
    env = _env(tmp_path)
    first = _run(["demo"], env)
    assert "coordinator.rs@rmtc.example" in first.stdout and "demo-learner-2026" in first.stdout
    _run(["demo"], env)  # again: same accounts, no error

    port = _free_port()
    server = subprocess.Popen([*RMTC, "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        assert httpx.get(base + "/ready").json()["status"] == "ok"
        token = httpx.post(base + "/api/v1/auth/token",
                           data={"username": "coordinator.me@rmtc.example", "password": "demo-coordinator-2026"})
        assert token.status_code == 200
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        users = httpx.get(base + "/api/v1/users", headers=headers).json()["items"]
        assert users and {u["country_code"] for u in users} == {"ME"}
        assert httpx.get(base + "/docs").status_code == 200
        courses = httpx.get(base + "/api/v1/courses?lang=sr-Latn", headers=headers).json()["items"]
        assert {c["slug"] for c in courses} >= {"asylum-procedures-eu-acquis", "identification-of-vulnerable-migrants"}
        asylum = next(c for c in courses if c["slug"] == "asylum-procedures-eu-acquis")
        assert asylum["title"] == "Postupak azila prema pravnim tekovinama EU"
        learner = httpx.post(base + "/api/v1/auth/token",
                             data={"username": "learner.rs@rmtc.example", "password": "demo-learner-2026"}).json()
        dashboard = httpx.get(base + "/api/v1/me/courses",
                              headers={"Authorization": f"Bearer {learner['access_token']}"}).json()
        assert [d["course_slug"] for d in dashboard] == ["asylum-procedures-eu-acquis"]
        # The sample cmi5 package is a playable module of the return course (once, though demo ran twice).
        lh = {"Authorization": f"Bearer {learner['access_token']}"}
        ret = next(c for c in courses if c["slug"] == "return-and-reintegration-counselling")
        assert httpx.post(f"{base}/api/v1/courses/{ret['id']}/enrol", headers=lh).status_code == 200
        modules = httpx.get(f"{base}/api/v1/courses/{ret['id']}", headers=lh).json()["modules"]
        [lesson] = [m for m in modules if m["kind"] == "package"]
        launched = httpx.post(f"{base}/api/v1/modules/{lesson['id']}/launch", json={}, headers=lh)
        assert launched.status_code == 200, launched.text
        au = httpx.get(base + "/play/" + launched.json()["launch_url"].split("/play/", 1)[1])
        assert au.status_code == 303 and "/au/index.html?" in au.headers["location"] and "fetch=" in au.headers["location"]
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    # Graceful: the lifespan shutdown ran (uvicorn then re-raises SIGTERM, so -15 is expected).
    assert server.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    assert '"request_id"' in err  # JSON access log lines carry the request id


def test_create_admin_then_sign_in(tmp_path):
    env = _env(tmp_path)
    out = _run(["users", "create-admin", "--email", "Root@Example.org", "--password", "a-strong-admin-pass"], env)
    assert "created admin root@example.org" in out.stdout
    again = _run(["users", "create-admin", "--email", "root@example.org", "--password", "another-strong-pass"], env)
    assert "updated admin" in again.stdout
    weak = _run(["users", "create-admin", "--email", "x@example.org", "--password", "short"], env, check=False)
    assert weak.returncode == 1 and "password" in (weak.stdout + weak.stderr).lower()


def test_db_commands_and_openapi_check(tmp_path):
    env = _env(tmp_path)
    assert "current: empty" in _run(["db", "current"], env).stdout
    assert "database at revision" in _run(["db", "upgrade"], env).stdout
    assert "base" in _run(["db", "downgrade", "base"], env).stdout
    _run(["db", "upgrade"], env)
    _run(["openapi", "--check"], env)
    stale = tmp_path / "stale.json"
    stale.write_text("{}")
    assert _run(["openapi", "--check", "-o", str(stale)], env, check=False).returncode == 1


def test_production_settings_refuse_default_secrets(tmp_path):
    result = _run(["db", "current"], _env(tmp_path, RMTC_ENV="production"), check=False)
    assert result.returncode == 2 and "RMTC_SECRET_KEY" in result.stderr


def test_help_texts():
    out = _run(["--help"], _env(ROOT / "var-never-created")).stdout
    for command in ("serve", "demo", "openapi", "db", "users"):
        assert command in out
    assert "--workers" in _run(["serve", "--help"], _env(ROOT / "var-never-created")).stdout
    shutil.rmtree(ROOT / "var-never-created", ignore_errors=True)


def test_packages_validate_and_import(tmp_path):
    from tests.packages import builders

    env = _env(tmp_path)
    good = tmp_path / "asylum.zip"
    good.write_bytes(builders.scorm2004())
    slip = tmp_path / "slip.zip"
    slip.write_bytes(builders.zip_slip())
    bare = tmp_path / "cmi5.xml"
    bare.write_text(builders.CMI5_XML.replace("<url>au1/index.html?lang=en</url>", "<url>https://cdn.example.org/au1/</url>"))
    out = _run(["packages", "validate", str(good)], env)
    assert "scorm2004 4th" in out.stdout and "content/res/m1/index.html" in out.stdout and "valid" in out.stdout
    refused = _run(["packages", "validate", str(slip)], env, check=False)
    assert refused.returncode == 1 and "unsafe-path" in refused.stdout
    assert _run(["packages", "validate", str(bare)], env).returncode == 0
    assert not (tmp_path / "data" / "storage").exists() or not any((tmp_path / "data" / "storage").rglob("*.html"))

    _run(["demo"], env)
    imported = _run(["packages", "import", str(good), "--course", "asylum-procedures-eu-acquis"], env)
    assert "imported package" in imported.stdout and "added as module" in imported.stdout
    stored = list((tmp_path / "data" / "storage" / "packages").rglob("index.html"))
    assert stored, "extracted files are in local storage"
    bad = _run(["packages", "import", str(slip)], env, check=False)
    assert bad.returncode == 1 and "unsafe-path" in bad.stdout
