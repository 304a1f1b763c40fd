"""Browser tests: a real server (`rmtc serve` in a subprocess on loopback, on this test's database:
SQLite, or PostgreSQL in the suite's PostgreSQL pass) and Debian's chromium, headless, driven by
Playwright. Playwright's own browsers are never downloaded: the browser is RMTC_CHROMIUM or the
`chromium` on PATH (scripts/test installs it in CI); without one these tests fail, unless
RMTC_TEST_BROWSER=0 skips them knowingly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.core.db import make_engine, make_session_factory
from app.core.passwords import PasswordHashing
from app.dbmigrate import ROOT
from tests.conftest import Factory, _free_port, make_settings

CHROMIUM = os.environ.get("RMTC_CHROMIUM") or shutil.which("chromium")
STARTUP_SECONDS = 60


class LiveFactory(Factory):
    """Users straight in the live server's database, signed in through its API."""

    def __init__(self, client: httpx.Client, settings, session_factory):
        self.client = client
        self.settings = settings
        self.passwords = PasswordHashing(settings)
        self.session_factory = session_factory


@dataclass
class LiveServer:
    api: str  # the API origin (public base URL)
    content: str  # the content origin: player pages, the run-time and package files
    client: httpx.Client  # on the API origin
    factory: LiveFactory
    log: Path
    pid: int

    def requests(self) -> list[dict]:
        return logged_requests(self.log)

    def runtime_cmi(self, runtime_path: str) -> dict[str, str]:
        r = httpx.get(self.content + runtime_path + "/cmi", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["cmi"]

    def wait_for_cmi(self, runtime_path: str, ready: Callable[[dict[str, str]], bool], seconds: float = 15) -> dict[str, str]:
        """The run-time session's CMI data once `ready` says so (beacons arrive after the page is gone)."""
        deadline = time.monotonic() + seconds
        while True:
            cmi = self.runtime_cmi(runtime_path)
            if ready(cmi):
                return cmi
            assert time.monotonic() < deadline, f"the run-time data never became ready: {cmi}"
            time.sleep(0.1)


def logged_requests(log: Path) -> list[dict]:
    """The server's JSON request log lines so far."""
    out = []
    for line in log.read_text("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("msg") == "request":
            out.append(entry)
    return out


def _wait_until_up(proc: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text('utf-8', errors='replace')[-4000:]}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the server did not start:\n{log.read_text('utf-8', errors='replace')[-4000:]}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def live_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """`rmtc serve` on 127.0.0.1 with a free port. The API origin is http://127.0.0.1:<port> and the
    content origin http://localhost:<port> (another origin, as in production), so launch URLs point
    at this server. Any 5xx answer fails the test at teardown."""
    port = _free_port()
    api, content = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    settings = make_settings(tmp_path, database_url, public_base_url=api, content_base_url=content)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMTC_")}
    env.update(
        PYTHONPATH=str(ROOT), RMTC_ENV="test", RMTC_DATA_DIR=str(settings.data_dir), RMTC_DATABASE_URL=database_url,
        RMTC_PUBLIC_BASE_URL=api, RMTC_CONTENT_BASE_URL=content, RMTC_ARGON2_TIME_COST="1",
        RMTC_ARGON2_MEMORY_COST_KIB="1024", RMTC_ARGON2_PARALLELISM="1", RMTC_PACKAGE_WORKER_POLL_SECONDS="0.1",
        RMTC_ASSESSMENT_SWEEP_SECONDS="0", RMTC_LOG_JSON="true",
    )
    log = tmp_path / "server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    engine = make_engine(database_url)
    client = httpx.Client(base_url=api, timeout=30)
    try:
        _wait_until_up(proc, api, log)
        server = LiveServer(api, content, client, LiveFactory(client, settings, make_session_factory(engine, api)), log,
                            proc.pid)
        yield server
    finally:
        client.close()
        _stop(proc)
        engine.dispose()
    errors = [f"{r.get('method')} {r.get('path')} -> {r.get('status')}" for r in logged_requests(log)
              if isinstance(r.get("status"), int) and r["status"] >= 500 and r["status"] != 503]
    assert not errors, f"requests answered with a server error: {errors}"


@pytest.fixture(scope="module")
def chromium():
    """Headless chromium (the system's, never a downloaded one), one per test module."""
    if not CHROMIUM:
        if os.environ.get("RMTC_TEST_BROWSER") == "0":
            pytest.skip("RMTC_TEST_BROWSER=0: browser tests skipped knowingly")
        pytest.fail("No chromium: install Debian's chromium (scripts/test does, as root), set RMTC_CHROMIUM, "
                    "or set RMTC_TEST_BROWSER=0 to skip the browser tests knowingly.")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium):
    """A fresh browser context (cookies, storage); an uncaught JavaScript error in any of its pages
    or frames fails the test."""
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    yield context
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
