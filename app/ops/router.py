"""Liveness, readiness, metrics and the documentation of problem types."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.core.deps import RuntimeDep
from app.core.errors import NotFound, all_error_classes
from app.core.openapi import problems

router = APIRouter(tags=["ops"])
log = logging.getLogger("rmtc.ops")


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "A dependency is not reachable"}})
def ready(rt: RuntimeDep) -> JSONResponse:
    """Readiness: the database and the storage backend answer."""
    checks: dict[str, str] = {}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", never a 500
        log.warning("readiness: database", extra={"error": str(exc)})
        checks["database"] = "unavailable"
    try:
        rt.storage.check()
        checks["storage"] = "ok"
    except Exception as exc:
        log.warning("readiness: storage", extra={"error": str(exc)})
        checks["storage"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(rt: RuntimeDep) -> Response:
    """Prometheus metrics."""
    return Response(rt.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/problems/{code}", responses=problems(404))
def problem_type(code: str) -> dict[str, str | int]:
    """Documentation of a problem `type`."""
    for cls in all_error_classes():
        if cls.code == code:
            return {"code": cls.code, "title": cls.title, "status": cls.status, "description": (cls.__doc__ or "").strip()}
    raise NotFound(f"No problem type {code!r}.")
