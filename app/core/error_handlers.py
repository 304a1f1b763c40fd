"""Maps every error to an RFC 9457 problem response."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.core.errors import PROBLEM_BASE, AppError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("rmtc.errors")

_HTTP_CODES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    411: ("length-required", "Length required"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Validation failed"),
    429: ("too-many-requests", "Too many requests"),
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    status: int, code: str, title: str, detail: str, request: Request, headers: dict[str, str] | None = None, **extra: Any
) -> ProblemResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return ProblemResponse(body, status_code=status, headers=headers)


def _clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        entry = {"loc": list(err.get("loc", [])), "msg": err.get("msg", ""), "type": err.get("type", "")}
        # Echoing the offending input back is useful but bounded (never a whole hostile body).
        value = err.get("input")
        # NaN and infinities (which Python's JSON parser accepts) have no JSON form.
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        if isinstance(value, (str, int, float, bool)) and len(str(value)) <= 200:
            entry["input"] = value
        cleaned.append(entry)
    return cleaned


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else "invalid value"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> ProblemResponse:
        log.info("client error", extra={"status": exc.status, "code": exc.code, "detail": exc.detail[:300]})
        return problem(exc.status, exc.code, exc.title, exc.detail, request, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = _clean_validation_errors(list(exc.errors()))
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:10])
        # xAPI demands 400 for every malformed request.
        status = 400 if request.url.path.startswith("/xapi") else 422
        return problem(
            status, "validation-error", "Validation failed", f"Invalid request: {fields}", request, errors=errors
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> ProblemResponse:
        # The client went away while sending its body (a page closing mid-request): nothing was
        # done, and nobody reads this answer; it is the client's doing, not a server error.
        log.info("client disconnected", extra={"path": request.url.path})
        return problem(400, "client-disconnected", "Client disconnected", "The request body did not arrive whole.", request)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> ProblemResponse:
        # A uniqueness or reference rule caught by the database (e.g. two concurrent identical
        # requests): the transaction was rolled back; nothing changed.
        return problem(409, "conflict", "Conflict", "The change conflicts with the current state; retry the request.", request)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> ProblemResponse:
        log.warning("database operational error", extra={"error": str(exc.orig)[:200]})
        return problem(503, "service-unavailable", "Service unavailable", "The database is busy; retry the request.", request,
                       headers={"Retry-After": "1"})

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> ProblemResponse:
        # A value the database cannot store (out of range, NUL character on PostgreSQL...).
        return problem(422, "invalid-value", "Invalid value", "A value in the request cannot be stored: " + _first_line(exc.orig), request)

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> ProblemResponse:
        # psycopg refuses NUL characters while adapting parameters (a ValueError, before any SQL runs).
        if isinstance(exc.orig, ValueError) and "NUL" in str(exc.orig):
            return problem(422, "invalid-value", "Invalid value", "Text values cannot contain NUL (0x00) characters.", request)
        log.error("database statement error", exc_info=exc)
        return problem(500, "internal-error", "Internal server error", "The request could not be completed.", request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        code, title = _HTTP_CODES.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem(exc.status_code, code, title, detail, request, headers=getattr(exc, "headers", None))
