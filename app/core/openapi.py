"""OpenAPI helpers: problem responses, stable operation ids (`tag:name`), writing the document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired credentials",
    403: "The caller's role does not allow this",
    404: "Not found, or outside the caller's scope",
    409: "Conflicts with the current state",
    412: "A precondition header did not match",
    413: "Body too large",
    415: "Unsupported content type",
    422: "Validation failed; `errors` lists the fields",
    429: "Rate limited; see Retry-After",
}


class ProblemDetail(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No user 6f1c..."])
    code: str = Field(description="Stable machine-readable code", examples=["not-found"])
    instance: str | None = Field(default=None, examples=["/api/v1/users/6f1c..."])
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = Field(default=None, description="Per-field errors (422)")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": ProblemDetail,
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


def operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}:{route.name}"


def render(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write(app: FastAPI, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(app), encoding="utf-8")
