"""Conditional GET for JSON representations: a strong ETag over the exact bytes sent, 304 when
the client's `If-None-Match` matches (the mobile app's cache)."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel

VARY = "Accept-Language, Authorization"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def json_with_etag(request: Request, model: BaseModel) -> Response:
    body = model.model_dump_json().encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": VARY}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
