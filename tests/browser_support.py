"""End-to-end support: the app served by a real uvicorn on loopback (in a thread, on the test's
own database) and a headless chromium driven by Playwright. The browser is the system's chromium
(`RMTC_CHROMIUM` or `chromium` on PATH); Playwright never downloads one. Without a chromium the
browser tests fail, unless `RMTC_SKIP_BROWSER_TESTS=1` says to skip them knowingly."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.main import create_app
from tests.conftest import Factory, make_settings
from tests.packages.builders import zip_bytes

ROOT = Path(__file__).resolve().parent.parent


def zip_folder(relative: str) -> bytes:
    """A package zip of a folder of this repository (e.g. one of content_packages/)."""
    folder = ROOT / relative
    return zip_bytes({p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()})


class LiveClient(httpx.Client):
    """httpx on the live server; `app` lets the test helpers reach its runtime like TestClient's."""

    app = None


@dataclass
class Live:
    url: str
    http: LiveClient
    factory: Factory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path, database_url, public_base_url=url)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the live server did not start"
        time.sleep(0.05)
    errors: list[str] = []

    def guard(response: httpx.Response) -> None:
        if response.status_code >= 500:
            errors.append(f"{response.request.method} {response.request.url} -> {response.status_code}")

    try:
        with LiveClient(base_url=url, timeout=30, event_hooks={"response": [guard]}) as http:
            http.app = app
            yield Live(url, http, Factory(http, settings))  # type: ignore[arg-type]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not errors, errors


def chromium_path() -> str | None:
    return os.environ.get("RMTC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("RMTC_SKIP_BROWSER_TESTS") == "1":
            pytest.skip("RMTC_SKIP_BROWSER_TESTS=1 and no chromium")
        pytest.fail("No chromium found: install Debian's chromium (scripts/test does in CI) or set RMTC_CHROMIUM.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()
