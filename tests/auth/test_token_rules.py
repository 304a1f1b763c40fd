"""Forged, expired and otherwise untrustworthy access tokens are refused (401)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def signed_in(client, factory):
    user = factory.user()
    tokens = factory.tokens(user)
    claims = jwt.get_unverified_claims(tokens["access_token"])
    return user, tokens["access_token"], claims


def _sign(client, claims: dict, **headers) -> str:
    signer = client.app.state.runtime.signer
    return jwt.encode(claims, signer._private_pem.decode(), algorithm="ES256", headers={"kid": signer.kid, **headers})


def _me(client, token: str) -> int:
    return client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_the_genuine_token_works(client, signed_in):
    assert _me(client, signed_in[1]) == 200
    assert _me(client, _sign(client, signed_in[2])) == 200  # re-signed with the real key: still fine


def test_expired_token(client, signed_in):
    claims = {**signed_in[2], "iat": int(time.time()) - 2000, "exp": int(time.time()) - 10}
    assert _me(client, _sign(client, claims)) == 401


@pytest.mark.parametrize("claim,value", [("aud", "another-service"), ("iss", "https://evil.example")])
def test_wrong_audience_or_issuer(client, signed_in, claim, value):
    assert _me(client, _sign(client, {**signed_in[2], claim: value})) == 401


@pytest.mark.parametrize("missing", ["exp", "aud", "iss", "sub", "jti", "iat", "sid"])
def test_missing_required_claim(client, signed_in, missing):
    claims = {k: v for k, v in signed_in[2].items() if k != missing}
    assert _me(client, _sign(client, claims)) == 401


def test_tampered_claims_break_the_signature(client, factory, signed_in):
    other = factory.user()
    header, payload, signature = signed_in[1].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(other.id)
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    assert _me(client, forged) == 401


def test_sub_not_matching_the_session_is_refused(client, factory, signed_in):
    # Even correctly signed, a token whose subject is not the owner of its session is refused.
    other = factory.user()
    assert _me(client, _sign(client, {**signed_in[2], "sub": str(other.id)})) == 401


def test_alg_none_is_refused(client, signed_in):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(signed_in[2]).encode())
    assert _me(client, f"{header}.{payload}.") == 401
    assert _me(client, f"{header}.{payload}") == 401


def test_hs256_signed_with_the_public_key_is_refused(client, signed_in):
    public_pem = client.get("/.well-known/jwks.json")  # attacker knows the public key
    assert public_pem.status_code == 200
    key = client.app.state.runtime.signer.public_pem
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": client.app.state.runtime.signer.kid}).encode())
    payload = _b64(json.dumps(signed_in[2]).encode())
    signature = _b64(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert _me(client, f"{header}.{payload}.{signature}") == 401


def test_token_signed_by_another_key_is_refused(client, signed_in):
    foreign = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = jwt.encode(signed_in[2], foreign.decode(), algorithm="ES256")
    assert _me(client, token) == 401


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "Bearer", "x" * 5000])
def test_malformed_tokens(client, token):
    r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_missing_token_is_401_with_www_authenticate(client):
    r = client.get("/api/v1/users/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_refresh_token_is_not_an_access_token(client, factory):
    tokens = factory.tokens(factory.user())
    assert _me(client, tokens["refresh_token"]) == 401
