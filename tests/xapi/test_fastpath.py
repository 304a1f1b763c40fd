"""The direct dispatch of /xapi/statements (app.xapi.fastpath): the same answers as through
FastAPI's routing, errors included, and everything else still routed by FastAPI."""

from __future__ import annotations

import pytest

from app.xapi.fastpath import FastPath
from tests.xapi.conftest import V, new_id, statement


def _fast_path(client) -> FastPath:
    app = client.app.middleware_stack
    while not isinstance(app, FastPath):
        app = app.app
    return app


def test_statement_requests_are_dispatched_directly(client, lrs):
    fast = _fast_path(client)
    assert {m for m, p in fast.routes if p == "/xapi/statements"} >= {"GET", "HEAD", "POST", "PUT"}
    sid = new_id()
    r = client.post("/xapi/statements", json=statement(id=sid), headers=lrs)
    assert r.status_code == 200 and r.json() == [sid]
    assert r.headers["x-experience-api-version"] == "1.0.3" and len(r.headers["x-request-id"]) == 32
    assert client.put(f"/xapi/statements?statementId={new_id()}", json=statement(), headers=lrs).status_code == 204
    got = client.get("/xapi/statements", params={"statementId": sid}, headers=lrs)
    assert got.status_code == 200 and got.json()["id"] == sid and got.headers["x-experience-api-consistent-through"]
    assert client.head("/xapi/statements", params={"statementId": sid}, headers=lrs).status_code == 200
    # The metrics name the route's template, as when FastAPI routes the request.
    metrics = client.get("/metrics").text
    assert 'method="POST",route="/xapi/statements",status="200"' in metrics.replace(", ", ",")


def test_errors_are_the_apps_problem_responses(client, lrs):
    no_version = {k: v for k, v in lrs.items() if k != "X-Experience-API-Version"}
    r = client.post("/xapi/statements", json=statement(), headers=no_version)  # AppError (BadRequest)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["instance"] == "/xapi/statements" and r.json()["request_id"] == r.headers["x-request-id"]
    assert r.headers["x-experience-api-version"] == "2.0.0"
    r = client.post("/xapi/statements", json=statement(), headers={**V, "Authorization": "Basic Zm9vOmJhcg=="})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/xapi/statements", content=b"{not json", headers={**lrs, "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    sid = new_id()
    assert client.post("/xapi/statements", json=statement(id=sid), headers=lrs).status_code == 200
    r = client.post("/xapi/statements", json=statement(id=sid, verb={"id": "http://adlnet.gov/expapi/verbs/passed"}), headers=lrs)
    assert r.status_code == 409 and r.json()["status"] == 409


def test_body_over_the_limit_is_413_problem(client, lrs, settings):
    too_big = b"[" + b" " * settings.xapi_max_body_bytes + b"]"
    # Chunked (no Content-Length): the limit is met while the endpoint reads the body.
    r = client.post("/xapi/statements", content=iter([too_big[:1024], too_big[1024:]]), headers={**lrs, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


def test_unexpected_error_is_a_500_problem_without_details(client, lrs, monkeypatch):
    fast = _fast_path(client)
    route = fast.routes[("POST", "/xapi/statements")]

    async def broken(request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(route, "endpoint", broken)
    guard = client.event_hooks["response"]
    client.event_hooks["response"] = []  # this 500 is the point of the test
    try:
        r = client.post("/xapi/statements", json=statement(), headers=lrs)
    finally:
        client.event_hooks["response"] = guard
    assert r.status_code == 500 and r.json()["code"] == "internal-error"
    assert "secret" not in r.text and r.json()["request_id"] == r.headers["x-request-id"]


@pytest.mark.parametrize(("method", "path", "status"), [("DELETE", "/xapi/statements", 405), ("GET", "/xapi/statements/x", 404)])
def test_other_methods_and_paths_go_through_fastapi(client, lrs, method, path, status):
    r = client.request(method, path, headers=lrs)
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"


def test_trailing_slash_is_redirected_by_fastapi(client, lrs):
    r = client.post("/xapi/statements/", json=statement(), headers=lrs, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith("/xapi/statements")
