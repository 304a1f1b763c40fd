"""Keyset (cursor) pagination: stable while rows are inserted between pages."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from app.core.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The cursor is not valid; start again from the first page.") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise BadRequest("The cursor is not valid; start again from the first page.")
    return values


def decode_keyset(cursor: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """The (time, id) position a keyset cursor names; None for the first page."""
    if not cursor:
        return None
    at_raw, id_raw = decode_cursor(cursor, 2)
    try:
        return dt.datetime.fromisoformat(at_raw), uuid.UUID(id_raw)
    except (TypeError, ValueError):
        raise BadRequest("The cursor is not valid; start again from the first page.") from None


def keyset_page(rows: Sequence[T], limit: int, at: Callable[[T], dt.datetime]) -> tuple[list[T], str | None]:
    """Cut `limit + 1` fetched rows to a page and the cursor of the next one (rows have an `id`)."""
    if len(rows) <= limit:
        return list(rows), None
    last = rows[limit - 1]
    return list(rows[:limit]), encode_cursor([at(last).isoformat(), str(last.id)])  # type: ignore[attr-defined]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` to get the next page")
    next: str | None = Field(default=None, description="URL of the next page, absent on the last page")
