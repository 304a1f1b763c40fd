"""Test fixtures: an isolated, migrated database per test and real HTTP clients.

SQLite (default): the schema is migrated once into a template file, copied for every test.
PostgreSQL (RMTC_TEST_DATABASE_URL=postgresql+psycopg://user@host:port/postgres): the schema is
migrated once into a template database; every test gets `CREATE DATABASE ... TEMPLATE` of it.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app import dbmigrate
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.passwords import PasswordHashing
from app.core.runtime import Runtime
from app.main import attach_runtime, create_app, detach_runtime
from app.users.models import Role, User

PG_URL = os.environ.get("RMTC_TEST_DATABASE_URL")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_counter = itertools.count()
DEFAULT_PASSWORD = "correct-horse-battery-9"


def pytest_report_header(config: pytest.Config) -> str:
    return f"rmtc test database: {'PostgreSQL ' + make_url(PG_URL).render_as_string(hide_password=True) if PG_URL else 'SQLite'}"


class _Postgres:
    def __init__(self, admin_url: str):
        self.admin_url = make_url(admin_url)
        self.engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.template = f"rmtc_tpl_{WORKER}_{uuid.uuid4().hex[:8]}"

    def url_for(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        with self.engine.connect() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if PG_URL:
        pg = _Postgres(PG_URL)
        url = pg.create(pg.template)
        dbmigrate.upgrade(url)
        yield pg
        pg.drop(pg.template)
        pg.engine.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        dbmigrate.upgrade(f"sqlite:///{path}")
        yield path


@pytest.fixture
def database_url(database_template: object, tmp_path: Path) -> Iterator[str]:
    if isinstance(database_template, _Postgres):
        name = f"rmtc_t_{WORKER}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        url = database_template.create(name, database_template.template)
        yield url
        database_template.drop(name)
    else:
        target = tmp_path / "rmtc.db"
        shutil.copyfile(database_template, target)
        yield f"sqlite:///{target}"


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
        "argon2_parallelism": 1,
        "log_json": True,
        "public_base_url": "http://testserver",
        "assessment_sweep_seconds": 0,  # tests run the sweep themselves
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


class ServerErrorGuard:
    """Collects every 5xx answer; a test that provoked one fails at teardown."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        if response.status_code >= 500 and response.status_code != 503:
            self.errors.append(f"{response.request.method} {response.request.url} -> {response.status_code}")


@pytest.fixture(scope="session")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app and one open client per test process. FastAPI resolves every route's dependencies
    on an app's first request (about a second) and a client without its context starts an event
    loop per request; so tests share both, and each test gets its own runtime (database, storage,
    keys, import worker), attached exactly as the lifespan attaches it."""
    base = make_settings(tmp_path_factory.mktemp("shared"), "sqlite://", package_worker_enabled=False)
    with TestClient(create_app(base), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(settings: Settings, shared_client: TestClient) -> Iterator[TestClient]:
    guard = ServerErrorGuard()
    app = shared_client.app
    base_runtime = app.state.runtime
    attach_runtime(app, Runtime.build(settings, metrics=base_runtime.metrics))
    shared_client.event_hooks["response"] = [guard]
    shared_client.cookies.clear()
    try:
        yield shared_client
    finally:
        detach_runtime(app, close=True)
        app.state.runtime = base_runtime
        shared_client.event_hooks["response"] = []
    assert not guard.errors, f"requests answered with a server error: {guard.errors}"


@pytest.fixture
def db(client: TestClient) -> Iterator[Session]:
    """A session on the same database as `client` (for arranging data and checking effects).
    Autocommit: every query sees what the API has committed, and holds no lock."""
    runtime = client.app.state.runtime
    with runtime.session_factory(bind=runtime.engine.execution_options(isolation_level="AUTOCOMMIT")) as session:
        yield session


class Factory:
    """Creates users straight in the database and signs them in through the API."""

    def __init__(self, client: TestClient, settings: Settings):
        self.client = client
        self.settings = settings
        self.passwords: PasswordHashing = client.app.state.runtime.passwords
        self.session_factory = client.app.state.runtime.session_factory

    def user(
        self,
        role: Role | str = Role.learner,
        country: str = "RS",
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        active: bool = True,
        full_name: str | None = None,
    ) -> User:
        role = Role(role)
        with self.session_factory() as session, session.begin():
            user = User(
                email=(email or f"{role.value}.{country.lower()}.{uuid.uuid4().hex[:8]}@example.org").lower(),
                full_name=full_name or f"{role.value.title()} of {country}",
                role=role,
                country_code=country,
                password_hash=self.passwords.hash(password),
                is_active=active,
            )
            session.add(user)
        return user

    def tokens(self, user: User, password: str = DEFAULT_PASSWORD) -> dict:
        response = self.client.post("/api/v1/auth/token", data={"username": user.email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()

    def headers(self, user: User, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens(user, password)['access_token']}"}

    def signed_in(self, role: Role | str = Role.learner, country: str = "RS") -> tuple[User, dict[str, str]]:
        user = self.user(role, country)
        return user, self.headers(user)


@pytest.fixture
def factory(client: TestClient, settings: Settings) -> Factory:
    return Factory(client, settings)


@pytest.fixture(scope="session")
def engine_for():
    """Open a throwaway engine on a URL (closed at the end of the test session)."""
    engines = []

    def _make(url: str):
        engine = make_engine(url)
        engines.append(engine)
        return engine, make_session_factory(engine, "http://testserver")

    yield _make
    for engine in engines:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def s3_settings(tmp_path, endpoint: str, **extra) -> Settings:
    return make_settings(
        tmp_path,
        "sqlite://",
        storage_backend="s3",
        s3_endpoint_url=endpoint,
        s3_bucket=f"rmtc-{uuid.uuid4().hex[:10]}",
        s3_access_key_id="test",
        s3_secret_access_key="test",
        **extra,
    )


