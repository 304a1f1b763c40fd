"""Direct dispatch of the LRS's busiest requests to their endpoints.

`POST`, `PUT` and `GET /xapi/statements` are most of an LRS's traffic (content and LMS
integrations send a statement per interaction). They go through the service's middleware like
every request (request id, access log, metrics, body limit, xAPI version header, CORS), then
straight to their endpoint, without FastAPI's routing and per-route layers (route matching
through every router, the exception and exit-stack middleware, the request-handler wrappers):
on a 2-core machine that was about a tenth of the CPU time of a single-statement POST.

The endpoints take the raw `Request` and nothing from FastAPI's dependency injection; the
routes stay declared on the router (OpenAPI, and every other method or path, e.g. a trailing
slash, goes through FastAPI as before). An exception from the endpoint gets the app's own
handler for it (the same problem response as through FastAPI); one without a handler goes on to
the outer middleware (500 problem).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request, Exception], Any]


class FastPath:
    def __init__(self, app: ASGIApp, *, owner: FastAPI, routes: Iterable[APIRoute]):
        self.app = app
        self.routes: dict[tuple[str, str], APIRoute] = {}
        for route in routes:
            for method in route.methods:
                self.routes[(method, route.path)] = route
        # Built with the middleware stack, at the first request: every handler is installed.
        handlers = owner.exception_handlers
        self.by_status: dict[int, Handler] = {k: v for k, v in handlers.items() if isinstance(k, int)}
        self.by_type: dict[type, Handler] = {k: v for k, v in handlers.items() if isinstance(k, type)}

    def handler_for(self, exc: Exception) -> Handler | None:
        if isinstance(exc, StarletteHTTPException) and exc.status_code in self.by_status:
            return self.by_status[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.by_type and cls is not Exception:  # Exception: the outer 500 handling
                return self.by_type[cls]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # what FastAPI's routing sets (the metrics' route label)
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = self.handler_for(exc)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)
