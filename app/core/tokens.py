"""Every JOSE call of the platform lives in this module.

Access tokens are JWTs signed with an asymmetric key (ES256 by default, RS256 optional), generated
into the data dir on first start unless a key is configured, and published as a JWK Set so other
services can verify them. Decoding always passes an explicit one-element algorithm list, so
`alg: none` and HS256-signed-with-the-public-key tokens are refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt
from jose.exceptions import JOSEError

from app.core.config import Settings


class TokenError(Exception):
    """A token that must not be trusted: bad signature, wrong claims, expired, malformed."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _generate_pem(algorithm: str) -> bytes:
    if algorithm == "ES256":
        key: Any = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_or_create_private_key(settings: Settings) -> bytes:
    """The signing key PEM: configured inline, from a file, or generated once into the data dir."""
    if settings.jwt_private_key:
        return settings.jwt_private_key.encode()
    path: Path = settings.jwt_key_path
    if path.exists():
        return path.read_bytes()
    if settings.jwt_private_key_file:
        raise FileNotFoundError(f"RMTC_JWT_PRIVATE_KEY_FILE {path} does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = _generate_pem(settings.jwt_algorithm)
    # Write to a temporary file and link it into place, so two workers starting at once agree.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    sid: str
    jti: str
    iat: int
    exp: int


class TokenSigner:
    """Issues and verifies the platform's access tokens."""

    def __init__(self, settings: Settings, private_pem: bytes):
        self.algorithm = settings.jwt_algorithm
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = settings.access_token_ttl_seconds
        private_key = serialization.load_pem_private_key(private_pem, password=None)
        expected = ec.EllipticCurvePrivateKey if self.algorithm == "ES256" else rsa.RSAPrivateKey
        if not isinstance(private_key, expected):
            raise ValueError(f"the configured JWT key does not fit {self.algorithm}")
        self._private_pem = private_pem
        self.public_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_jwk = self._public_jwk(private_key.public_key())
        self.kid = self.public_jwk["kid"]

    def _public_jwk(self, public_key: Any) -> dict[str, str]:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            numbers = public_key.public_numbers()
            size = 32
            fields = {
                "crv": "P-256",
                "kty": "EC",
                "x": base64.urlsafe_b64encode(numbers.x.to_bytes(size, "big")).rstrip(b"=").decode(),
                "y": base64.urlsafe_b64encode(numbers.y.to_bytes(size, "big")).rstrip(b"=").decode(),
            }
        else:
            numbers = public_key.public_numbers()
            fields = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
        # RFC 7638 thumbprint: the required members, sorted, no whitespace.
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
        return {**fields, "use": "sig", "alg": self.algorithm, "kid": kid}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.public_jwk]}

    def issue_access_token(self, *, subject: str, session_id: str, now: dt.datetime) -> tuple[str, AccessClaims]:
        iat = int(now.timestamp())
        claims = AccessClaims(sub=subject, sid=session_id, jti=uuid.uuid4().hex, iat=iat, exp=iat + self.ttl)
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": claims.sub,
            "sid": claims.sid,
            "jti": claims.jti,
            "iat": claims.iat,
            "exp": claims.exp,
            "typ": "access",
        }
        token = jwt.encode(payload, self._private_pem.decode(), algorithm=self.algorithm, headers={"kid": self.kid})
        return token, claims

    def verify_access_token(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise TokenError("malformed token") from exc
        if header.get("alg") != self.algorithm:
            raise TokenError("unexpected signing algorithm")
        if header.get("kid") not in (None, self.kid):
            raise TokenError("unknown signing key")
        try:
            payload = jwt.decode(
                token,
                self.public_pem.decode(),
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require_aud": True,
                    "require_iat": True,
                    "require_exp": True,
                    "require_iss": True,
                    "require_sub": True,
                    "require_jti": True,
                    "leeway": 0,
                },
            )
        except JOSEError as exc:
            raise TokenError(str(exc) or "invalid token") from exc
        if payload.get("typ") != "access" or not isinstance(payload.get("sid"), str):
            raise TokenError("not an access token")
        return AccessClaims(
            sub=str(payload["sub"]),
            sid=payload["sid"],
            jti=str(payload["jti"]),
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
        )



def verify_jws(token: str, public_key: Any, algorithms: list[str]) -> bytes:
    """Verify a compact JWS with a public key object (e.g. from an X.509 certificate)."""
    from jose import jws

    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    try:
        return jws.verify(token, pem, algorithms=algorithms)
    except JOSEError as exc:
        raise TokenError(str(exc) or "invalid signature") from exc
