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


def test_generated_request_ids_are_unique_hex_and_new_in_a_forked_worker(client, monkeypatch):
    import re

    from app.core import middleware

    ids = [client.get("/health").headers["x-request-id"] for _ in range(40)]
    assert len(set(ids)) == 40 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    prefix = middleware._new_request_id()[:16]
    monkeypatch.setattr(middleware.os, "getpid", lambda: -1)  # as in a process forked after the first request
    assert middleware._new_request_id()[:16] != prefix


def test_log_lines_are_json_with_the_request_id(capsys):
    import json as jsonlib
    import logging

    from app.core.logging import JSONFormatter, request_id_var

    formatter = JSONFormatter()
    token = request_id_var.set("abc123")
    try:
        record = logging.LogRecord("rmtc.access", logging.INFO, __file__, 1, "request", (), None)
        record.path, record.status, record.big, record.obj = "/xapi/statements", 200, 2**70, object()
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    entry = jsonlib.loads(line)
    assert entry["request_id"] == "abc123" and entry["status"] == 200 and entry["path"] == "/xapi/statements"
    assert entry["big"] == 2**70 and entry["obj"].startswith("<object")  # what orjson refuses still logs
    record = logging.LogRecord("rmtc", logging.INFO, __file__, 1, "Ünïcode %s", ("Крагујевац",), None)
    assert jsonlib.loads(formatter.format(record))["msg"] == "Ünïcode Крагујевац" and "Крагујевац" in formatter.format(record)
