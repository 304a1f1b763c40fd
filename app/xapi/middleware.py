"""ASGI middleware for /xapi: the version header on every response, and the alternate request
syntax (a POST with `?method=` and a form body carrying headers and content), which xAPI 1.0.x
clients use to get through restrictive proxies and which 2.0 removed."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER_FIELDS = {"authorization", "x-experience-api-version", "content-type", "content-length", "if-match", "if-none-match"}
METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE"}


async def _reply(send: Send, status: int, detail: str, version: str) -> None:
    body = json.dumps({"type": "/problems/bad-request", "title": "Bad request", "status": status, "detail": detail,
                       "code": "bad-request"}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
        (b"x-experience-api-version", version.encode())]})
    await send({"type": "http.response.body", "body": body})


class XapiMiddleware:
    def __init__(self, app: ASGIApp, max_body: int, default_version: str = "2.0.0"):
        self.app = app
        self.max_body = max_body
        self.default_version = default_version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/xapi"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        requested = headers.get(b"x-experience-api-version", b"").decode("latin-1")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if scope["method"] == "POST" and "method" in query:
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body:
                    await _reply(send, 413, "The request body is too large.", "1.0.3")  # only 1.0 has this syntax
                    return
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            fields = {k.lower(): v for k, v in form.items()}
            requested = fields.get("x-experience-api-version", requested)
            if requested.startswith("2."):
                await _reply(send, 400, "The alternate request syntax is not part of xAPI 2.0.", "2.0.0")
                return
            method = query["method"].upper()
            if len(query) != 1 or method not in METHODS:
                await _reply(send, 400, "The alternate request syntax takes only the `method` query parameter.", "1.0.3")
                return
            content = form.get("content", "").encode("utf-8")
            # Form fields named like headers override the request's headers; the form's own
            # Content-Type no longer describes the (unwrapped) content.
            overridden = {name for name in HEADER_FIELDS if name in fields} | {"content-type", "content-length"}
            new_headers = [(k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in overridden]
            for name in HEADER_FIELDS - {"content-length", "content-type"}:
                if name in fields:
                    new_headers.append((name.encode(), fields[name].encode("latin-1", "replace")))
            new_headers.append((b"content-type", fields.get("content-type", "application/json").encode("latin-1", "replace")))
            new_headers.append((b"content-length", str(len(content)).encode()))
            params = {k: v for k, v in form.items() if k.lower() not in HEADER_FIELDS and k != "content"}
            scope = {**scope, "method": method, "headers": new_headers, "query_string": urlencode(params).encode()}
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": content, "more_body": False}

            receive = replay
        version = (b"2.0.0" if requested.startswith("2.") else b"1.0.3" if requested.startswith("1.0")
                   else self.default_version.encode())
        statements_read = scope["path"].rstrip("/") == "/xapi/statements" and scope["method"] in ("GET", "HEAD")

        async def with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                hdrs = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-experience-api-version"]
                hdrs.append((b"x-experience-api-version", version))
                if statements_read and not any(k.lower() == b"x-experience-api-consistent-through" for k, _ in hdrs):
                    # Every answer to a statement query carries it, errors included.
                    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                    hdrs.append((b"x-experience-api-consistent-through", now.encode()))
                message["headers"] = hdrs
            await send(message)

        await self.app(scope, receive, with_version)
