"""ASGI middleware: request id, structured access log and metrics for every request."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_BASE
from app.core.logging import request_id_var
from app.core.metrics import Metrics

log = logging.getLogger("rmtc.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


_id_source: tuple[int, str, Iterator[int]] | None = None


def _new_request_id() -> str:
    """32 hex digits, unique: a random prefix per process and a counter (a uuid4 per request
    costs a system call; request ids are for correlation, not secrets)."""
    global _id_source
    if _id_source is None or _id_source[0] != os.getpid():  # a forked worker starts its own
        _id_source = (os.getpid(), secrets.token_hex(8), itertools.count())
    return f"{_id_source[1]}{next(_id_source[2]):016x}"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # A client-supplied id is kept only when it is harmless to log and echo.
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        started_response = False

        async def send_tracking(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            # Unexpected: log with the request id, answer a bare problem (never a stack trace).
            log.exception("unhandled error", extra={"path": scope["path"]})
            if started_response:
                raise
            status = 500
            start, body = _problem_message(
                500,
                "internal-error",
                "Internal server error",
                "An unexpected error occurred; quote the request id when reporting it.",
                request_id=request_id,
            )
            await send(start)
            await send(body)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
            request_id_var.reset(token)


def _route_template(scope: dict[str, Any]) -> str:
    # The matched route's template keeps metric label cardinality bounded (no ids in labels).
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path or "unmatched"


class _BodyTooLarge(StarletteHTTPException):
    """Raised from `receive`; an HTTPException so that body parsers re-raise it untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes for this endpoint.")


def _problem_message(
    status: int, code: str, title: str, detail: str, *, request_id: str | None = None
) -> tuple[dict, dict]:
    problem = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
    headers = [(b"content-type", b"application/problem+json")]
    if request_id:
        problem["request_id"] = request_id
        headers.append((b"x-request-id", request_id.encode()))
    body = json.dumps(problem).encode()
    headers.append((b"content-length", str(len(body)).encode()))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


class BodyLimitMiddleware:
    """Refuses request bodies over a limit with a 413 problem: early from Content-Length, and
    while streaming (chunked bodies are counted, never buffered whole). The first path pattern in
    `overrides` that matches sets the limit (upload endpoints allow far more than JSON ones)."""

    def __init__(self, app: ASGIApp, default_limit: int, overrides: list[tuple[str, int]] | None = None):
        self.app = app
        self.default_limit = default_limit
        self.overrides = [(re.compile(pattern), limit) for pattern, limit in overrides or []]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.overrides:
            if pattern.fullmatch(path):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        detail = f"The request body exceeds the limit of {limit} bytes for this endpoint."
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                for message in _problem_message(413, "payload-too-large", "Payload too large", detail):
                    await send(message)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            for message in _problem_message(413, "payload-too-large", "Payload too large", detail):
                await send(message)


class PathCORSMiddleware(CORSMiddleware):
    """CORS for the paths under `include` (all when empty), except those under `exclude`."""

    def __init__(self, app: ASGIApp, *, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), **options: Any):
        super().__init__(app, **options)
        self.include, self.exclude = include, exclude

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (not self.include or path.startswith(self.include)) and not (
                self.exclude and path.startswith(self.exclude)):
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)
