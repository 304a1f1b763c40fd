"""Operations endpoints and cross-cutting HTTP behaviour: problems, request ids, limits, metrics."""

from __future__ import annotations

import shutil

from fastapi import APIRouter
from starlette.testclient import TestClient

from app.main import create_app


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}


def test_ready_reports_unavailable_storage(client, settings):
    shutil.rmtree(settings.local_storage_dir)
    settings.local_storage_dir.write_text("not a directory")  # storage root broken
    r = client.get("/ready")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "storage": "unavailable"}


def test_metrics_expose_request_counts_by_route_template(client, factory):
    user = factory.user()
    client.get(f"/api/v1/users/{user.id}")
    text = client.get("/metrics").text
    assert "rmtc_http_requests_total" in text
    assert 'route="/api/v1/users/{user_id}"' in text
    assert str(user.id) not in text  # ids never become label values


def test_request_id_is_generated_or_echoed(client):
    generated = client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = client.get("/health", headers={"X-Request-ID": "lb-1234-abcd"})
    assert echoed.headers["x-request-id"] == "lb-1234-abcd"
    hostile = client.get("/health", headers={"X-Request-ID": "evil id with spaces"})
    assert hostile.headers["x-request-id"] != "evil id with spaces"


def test_unknown_route_and_wrong_method_are_problems(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/not-found" and r.json()["request_id"]
    r = client.delete("/health")
    assert r.status_code == 405 and r.json()["code"] == "method-not-allowed"


def test_problem_types_are_documented(client):
    assert client.get("/problems/email-taken").json()["status"] == 409
    assert client.get("/problems/no-such-thing").status_code == 404


def test_oversized_body_is_413(client):
    r = client.post("/api/v1/auth/refresh", content=b"{" + b" " * (11 * 1024 * 1024) + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


def test_unexpected_error_is_a_bare_problem_with_request_id(settings, caplog):
    app = create_app(settings)
    boom = APIRouter()

    @boom.get("/boom")
    def explode() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers={"X-Request-ID": "trace-me-1"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-request-id"] == "trace-me-1"
    assert r.json()["request_id"] == "trace-me-1"
    assert "secret" not in r.text and "Traceback" not in r.text
    assert any(rec.exc_info and getattr(rec, "msg", "") == "unhandled error" for rec in caplog.records)


def test_validation_problem_lists_fields(client):
    r = client.post("/api/v1/auth/token", data={"username": "x"})
    assert r.status_code == 422
    assert ["body", "password"] in [e["loc"] for e in r.json()["errors"]]


def test_docs_off_in_production_unless_asked(tmp_path, database_url):
    from tests.conftest import make_settings

    prod = dict(env="production", secret_key="s" * 40, jwt_private_key_file=tmp_path / "k.pem")
    from app.core.tokens import _generate_pem

    (tmp_path / "k.pem").write_bytes(_generate_pem("ES256"))
    with TestClient(create_app(make_settings(tmp_path, database_url, **prod))) as c:
        assert c.get("/docs").status_code == 404 and c.get("/openapi.json").status_code == 404
    with TestClient(create_app(make_settings(tmp_path, database_url, docs_enabled=True, **prod))) as c:
        assert c.get("/docs").status_code == 200


def test_chunked_oversized_body_is_413_without_buffering_it(client):
    def chunks():
        for _ in range(12):
            yield b" " * (1024 * 1024)

    r = client.post("/api/v1/auth/refresh", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload-too-large"
