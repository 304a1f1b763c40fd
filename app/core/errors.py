"""Typed error hierarchy, rendered as RFC 9457 problem details (`application/problem+json`).

Services raise these; they never import FastAPI. Each class has a stable `code`, which is also the
last segment of the problem `type` URI, so clients can branch on it.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"
    # When true, the request's transaction is committed although the request fails (e.g. a
    # failed login still counts towards the rate limit; a re-used refresh token revokes its family).
    commit_session: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(AppError):
    status = 400
    code = "bad-request"
    title = "Bad request"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="rmtc"'})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(AppError):
    status = 404
    code = "not-found"
    title = "Not found"


class MethodNotAllowed(AppError):
    status = 405
    code = "method-not-allowed"
    title = "Method not allowed"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    code = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported-media-type"
    title = "Unsupported media type"


class ValidationFailed(AppError):
    status = 422
    code = "validation-error"
    title = "Validation failed"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None, **kw: Any):
        super().__init__(detail, errors=errors or [], **kw)


class TooManyRequests(AppError):
    status = 429
    code = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kw: Any):
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}, **kw)
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    status = 503
    code = "service-unavailable"
    title = "Service unavailable"


def field_error(loc: str | list[str | int], msg: str, type_: str = "value_error") -> dict[str, Any]:
    """One entry of a validation problem's `errors` list."""
    parts = loc.split(".") if isinstance(loc, str) else loc
    return {"loc": list(parts), "msg": msg, "type": type_}


# Problem types documented at /problems/{code} and referenced from OpenAPI.
def all_error_classes() -> list[type[AppError]]:
    seen: list[type[AppError]] = []
    stack: list[type[AppError]] = [AppError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
