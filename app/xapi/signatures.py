"""Signed statements (xAPI Data 2.6): a compact JWS attachment whose payload is the statement.

Verification: the JWS is well-formed, uses RS256/RS384/RS512, its payload matches the statement
(ignoring the properties the LRS sets and the attachments themselves), and, when the header
carries an X.509 chain (`x5c`), the signature verifies with the first certificate's key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509

from app.core.tokens import TokenError, verify_jws
from app.xapi.validation import comparable

ALGORITHMS = ("RS256", "RS384", "RS512")
IGNORED = ("id", "authority", "stored", "version", "attachments", "timestamp")


class SignatureInvalid(Exception):
    pass


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _comparable(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comparable(statement).items() if k not in IGNORED}


def verify_statement_signature(statement: dict[str, Any], jws: bytes) -> None:
    try:
        token = jws.decode("ascii").strip()
        header_b64, payload_b64, _signature = token.split(".")
        header = json.loads(_b64(header_b64))
        payload = json.loads(_b64(payload_b64))
    except (UnicodeDecodeError, ValueError):
        raise SignatureInvalid("the signature is not a compact JWS") from None
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise SignatureInvalid("the JWS algorithm must be RS256, RS384 or RS512")
    if not isinstance(payload, dict) or _comparable(payload) != _comparable(statement):
        raise SignatureInvalid("the signed payload does not match the statement")
    for key in ("id",):
        if key in payload and payload[key] != statement.get(key):
            raise SignatureInvalid(f"the signed {key} does not match the statement")
    chain = header.get("x5c")
    if chain:
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        except (ValueError, TypeError, IndexError):
            raise SignatureInvalid("the x5c certificate cannot be read") from None
        try:
            verify_jws(token, cert.public_key(), [header["alg"]])
        except TokenError as exc:
            raise SignatureInvalid(f"the signature does not verify: {exc}") from None
