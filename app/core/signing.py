"""Short-lived HMAC-signed tokens for URLs (content delivery, launches): compact, URL-safe,
verified in constant time, with an expiry. Not JWTs: they never leave the platform's own use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class BadSignature(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str, purpose: str):
        # One key per purpose: a content token can never pass as another kind of token.
        self._key = hashlib.sha256(f"{purpose}\x00{secret}".encode()).digest()

    def sign(self, payload: dict[str, Any], *, ttl_seconds: int, now: float | None = None) -> str:
        body = {**payload, "exp": int((now or time.time()) + ttl_seconds)}
        raw = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self._key, raw.encode(), hashlib.sha256).digest()[:24]
        return f"{raw}.{_b64(mac)}"

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        try:
            raw, mac = token.split(".", 1)
            expected = hmac.new(self._key, raw.encode(), hashlib.sha256).digest()[:24]
            if not hmac.compare_digest(expected, _unb64(mac)):
                raise BadSignature("bad signature")
            payload = json.loads(_unb64(raw))
        except (ValueError, TypeError) as exc:
            raise BadSignature("malformed token") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            raise BadSignature("malformed token")
        if payload["exp"] < (now or time.time()):
            raise BadSignature("expired")
        return payload
