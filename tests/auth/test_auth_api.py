"""Sign-in, refresh rotation, re-use detection, logout, password changes, rate limiting."""

from __future__ import annotations

import datetime as dt

from jose import jwt
from sqlalchemy import select

from app.auth.models import AuthSession, LoginThrottle
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD


def test_password_flow_returns_tokens_that_work(client, factory):
    user = factory.user(Role.learner, "ME")
    r = client.post("/api/v1/auth/token", data={"username": user.email.upper(), "password": DEFAULT_PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert r.headers["cache-control"] == "no-store"
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == user.email and me.json()["country_code"] == "ME"


def test_access_token_has_standard_claims_and_verifies_with_published_jwks(client, factory):
    user = factory.user()
    token = factory.tokens(user)["access_token"]
    jwks = client.get("/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 1 and jwks["keys"][0]["alg"] == "ES256" and "d" not in jwks["keys"][0]
    claims = jwt.decode(token, jwks["keys"][0], algorithms=["ES256"], audience="rmtc-api", issuer="rmtc")
    assert claims["sub"] == str(user.id)
    assert {"iss", "aud", "sub", "exp", "iat", "jti"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(token)["kid"] == jwks["keys"][0]["kid"]


def test_unknown_email_and_wrong_password_get_the_same_answer(client, factory):
    user = factory.user()
    wrong = client.post("/api/v1/auth/token", data={"username": user.email, "password": "not-the-password"})
    unknown = client.post("/api/v1/auth/token", data={"username": "nobody@example.org", "password": "whatever-1234"})
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda b: {k: v for k, v in b.items() if k not in ("request_id", "instance")}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())
    assert wrong.headers["content-type"] == "application/problem+json"


def test_inactive_account_cannot_sign_in(client, factory):
    user = factory.user(active=False)
    r = client.post("/api/v1/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "invalid-credentials"


def test_login_rate_limited_per_account_with_retry_after(client, factory, db):
    user = factory.user()
    for _ in range(5):
        r = client.post("/api/v1/auth/token", data={"username": user.email, "password": "wrong-password-x"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 901
    assert r.json()["code"] == "too-many-requests"
    # The counter is stored in the database (shared by all workers), not in process memory.
    row = db.get(LoginThrottle, f"account:{user.email}")
    assert row is not None and row.failures == 5


def test_login_rate_limit_window_expires(client, factory, db):
    user = factory.user()
    for _ in range(5):
        client.post("/api/v1/auth/token", data={"username": user.email, "password": "wrong-password-x"})
    row = db.get(LoginThrottle, f"account:{user.email}")
    row.window_start = row.window_start - dt.timedelta(seconds=901)
    db.commit()
    r = client.post("/api/v1/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 200
    db.expire_all()
    assert db.get(LoginThrottle, f"account:{user.email}") is None  # success clears the account counter


def test_login_rate_limited_per_client_address(client, factory):
    # Many accounts from one address: the per-address limit (30) stops a password spray.
    for i in range(30):
        r = client.post("/api/v1/auth/token", data={"username": f"spray{i}@example.org", "password": "guess-123456"})
        assert r.status_code == 401
    user = factory.user()
    r = client.post("/api/v1/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 429


def test_refresh_rotates_and_old_token_reuse_revokes_the_family(client, factory, db):
    user = factory.user()
    first = factory.tokens(user)
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    headers2 = {"Authorization": f"Bearer {second['access_token']}"}
    assert client.get("/api/v1/users/me", headers=headers2).status_code == 200

    # The rotated (first) token shows up again: someone copied it. The whole sign-in ends.
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["code"] == "refresh-token-reused"
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    assert client.get("/api/v1/users/me", headers=headers2).status_code == 401
    sessions = db.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).all()
    assert [s.revoked_reason for s in sessions] == ["refresh_token_reuse"]


def test_refresh_tokens_are_stored_hashed(client, factory, db):
    from app.auth.models import RefreshToken

    tokens = factory.tokens(factory.user())
    stored = db.scalars(select(RefreshToken.token_hash)).all()
    assert tokens["refresh_token"] not in stored
    assert all(len(h) == 64 for h in stored)


def test_unknown_refresh_token_is_401(client):
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert r.status_code == 401 and r.json()["code"] == "invalid-refresh-token"


def test_refresh_body_must_be_json_object_with_token(client):
    assert client.post("/api/v1/auth/refresh", json={}).status_code == 422
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": "x", "role": "admin"}).status_code == 422
    assert client.post("/api/v1/auth/refresh", content=b"not json", headers={"content-type": "application/json"}).status_code == 422


def test_logout_ends_the_session_and_its_access_tokens(client, factory):
    user = factory.user()
    tokens = factory.tokens(user)
    other = factory.tokens(user)  # a second device stays signed in
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert client.get("/api/v1/users/me", headers=headers).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {other['access_token']}"}).status_code == 200


def test_password_change_revokes_every_session(client, factory):
    user = factory.user()
    a = factory.tokens(user)
    b = factory.tokens(user)
    headers = {"Authorization": f"Bearer {a['access_token']}"}
    r = client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase"},
        headers=headers,
    )
    assert r.status_code == 204
    for t in (a, b):
        assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {t['access_token']}"}).status_code == 401
        assert client.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]}).status_code == 401
    assert client.post("/api/v1/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD}).status_code == 401
    assert client.post("/api/v1/auth/token", data={"username": user.email, "password": "a-brand-new-passphrase"}).status_code == 200


def test_password_change_needs_current_password_and_a_strong_new_one(client, factory):
    user, headers = factory.signed_in()
    wrong = client.post(
        "/api/v1/users/me/password", json={"current_password": "nope-nope-nope", "new_password": "another-good-one"},
        headers=headers,
    )
    assert wrong.status_code == 401
    weak = client.post(
        "/api/v1/users/me/password", json={"current_password": DEFAULT_PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["loc"] == ["body", "password"]
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200  # nothing changed


def test_deactivation_and_demotion_take_effect_at_once(client, factory):
    admin, admin_h = factory.signed_in(Role.admin)
    coord, coord_h = factory.signed_in(Role.coordinator, "RS")
    learner = factory.user(Role.learner, "RS")
    assert client.get(f"/api/v1/users/{learner.id}", headers=coord_h).status_code == 200
    # Admin demotes the coordinator: the same access token now carries learner rights.
    r = client.patch(f"/api/v1/users/{coord.id}", json={"role": "learner"}, headers=admin_h)
    assert r.status_code == 200
    assert client.get(f"/api/v1/users/{learner.id}", headers=coord_h).status_code == 404
    assert client.post(f"/api/v1/users/{coord.id}/deactivate", headers=admin_h).status_code == 200
    assert client.get("/api/v1/users/me", headers=coord_h).status_code == 401


def test_sessions_list_shows_own_active_sign_ins(client, factory):
    user = factory.user()
    factory.tokens(user)
    headers = factory.headers(user)
    r = client.get("/api/v1/auth/sessions", headers=headers)
    assert r.status_code == 200 and len(r.json()) == 2
