"""The application factory. Nothing is built at import time: `create_app(settings)` gets
everything it needs from its argument, so tests can build many isolated apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.assessments.router import router as assessments_router
from app.assessments.sweeper import ExpirySweeper
from app.auth.router import router as auth_router
from app.core.config import Settings
from app.core.error_handlers import install_error_handlers
from app.core.logging import configure_logging
from app.core.metrics import Metrics
from app.core.middleware import BodyLimitMiddleware, PathCORSMiddleware, RequestContextMiddleware
from app.core.openapi import operation_id
from app.core.process import configure_gc
from app.core.runtime import Runtime
from app.courses.router import router as courses_router
from app.enrolments.router import router as enrolments_router
from app.ops.router import router as ops_router
from app.packages.router import content_router
from app.packages.router import router as packages_router
from app.packages.worker import ImportWorker
from app.reference.router import router as reference_router
from app.registrations.cmi5 import Cmi5Rules
from app.registrations.router import player_router
from app.registrations.router import router as registrations_router
from app.registrations.tincan import TinCanTracking
from app.users.router import router as users_router
from app.xapi import hooks as xapi_hooks
from app.xapi.fastpath import FastPath
from app.xapi.middleware import XapiMiddleware
from app.xapi.router import admin_router as lrs_admin_router
from app.xapi.router import router as xapi_router

DESCRIPTION = """
Backend of the **Regional Migration Training Centre** (RMTC): the e-learning platform through
which migration officials of the Western Balkans are trained.

* Sign in with `POST /api/v1/auth/token` (OAuth2 password flow) and send
  `Authorization: Bearer <access_token>`.
* Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code`.
* Resources outside your scope (another country's people, another learner's data) answer 404,
  exactly like missing ones.
"""

TAGS = [
    {"name": "auth", "description": "Sign-in, tokens, sessions, passwords, public keys"},
    {"name": "users", "description": "People and their roles, scoped by country"},
    {"name": "courses", "description": "The catalogue: courses, modules, covers and resource files"},
    {"name": "enrolments", "description": "Enrolments, the learner's dashboard and progress"},
    {"name": "cohorts", "description": "Named groups of learners of one course"},
    {"name": "question-banks", "description": "Question banks, categories, versioned questions; GIFT and Moodle XML import/export"},
    {"name": "quizzes", "description": "Quizzes of assessment modules, attempts (autosave, time limit, submit), essay grading"},
    {"name": "assessment-reports", "description": "Quiz results, item analysis, pre-test/post-test comparison (JSON, CSV)"},
    {"name": "packages", "description": "Content packages (SCORM 1.2, SCORM 2004, cmi5, xAPI): upload, import jobs, versions"},
    {"name": "content", "description": "Package files served to learners' browsers (signed URLs; the content origin)"},
    {"name": "lrs", "description": "LRS credentials (HTTP Basic key/secret with xAPI scopes)"},
    {"name": "xapi", "description": "The xAPI 1.0.3 / 2.0.0 Learning Record Store at /xapi"},
    {"name": "reference", "description": "Countries, institutions, thematic areas, languages"},
    {"name": "ops", "description": "Health, readiness, metrics"},
]


CONTENT_FACING = ("/xapi", "/cmi5/")


def attach_runtime(app: FastAPI, rt: Runtime) -> None:
    """Give the app its runtime and start the per-process background work (import worker,
    attempt sweeper)."""
    app.state.runtime = rt
    # Profiles that constrain and follow what launched content writes to the LRS.
    xapi_hooks.install(rt.session_factory, [Cmi5Rules(), TinCanTracking()])
    if rt.settings.package_worker_enabled:
        worker = ImportWorker(rt)
        rt.import_worker = worker
        worker.start()
    app.state.attempt_sweeper = None
    if rt.settings.assessment_sweep_seconds > 0:
        app.state.attempt_sweeper = ExpirySweeper(rt)
        app.state.attempt_sweeper.start()


def detach_runtime(app: FastAPI, *, close: bool) -> None:
    rt: Runtime = app.state.runtime
    if getattr(app.state, "attempt_sweeper", None) is not None:
        app.state.attempt_sweeper.stop()
        app.state.attempt_sweeper = None
    if rt.import_worker is not None:
        rt.import_worker.stop()
        rt.import_worker = None
    if close:
        rt.close()


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    metrics = runtime.metrics if runtime else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.build(settings, metrics=metrics)
        attach_runtime(app, rt)
        try:
            yield
        finally:
            detach_runtime(app, close=runtime is None)

    app = FastAPI(
        title="RMTC learning platform API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_on else None,
        redoc_url="/redoc" if settings.docs_on else None,
        openapi_url="/openapi.json" if settings.docs_on else None,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    # Innermost: the busiest LRS requests skip FastAPI's routing, after every other middleware.
    app.add_middleware(FastPath, owner=app, routes=[r for r in xapi_router.routes if getattr(r, "path", None) == "/xapi/statements"])
    # Launched content (cmi5 AUs, xAPI packages) runs on the content origin, or on a publisher's
    # server, and calls the LRS and the fetch URL from there: those take requests from any origin
    # (their credentials are headers, never cookies).
    app.add_middleware(
        PathCORSMiddleware, include=CONTENT_FACING, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"],
        expose_headers=["ETag", "Last-Modified", "X-Experience-API-Version", "X-Experience-API-Consistent-Through"],
        allow_credentials=False,
    )
    if settings.cors_origins:
        app.add_middleware(
            PathCORSMiddleware,
            exclude=CONTENT_FACING,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "ETag", "Location", "Retry-After"],
            allow_credentials=False,
        )
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_request_body_bytes,
        overrides=[
            (r"/api/v1/modules/[^/]+/file", settings.max_resource_bytes),
            (r"/api/v1/courses/[^/]+/cover", settings.max_cover_bytes),
            (r"/api/v1/packages", settings.package_max_bytes),
            (r"/api/v1/packages/uploads/[^/]+", settings.package_max_bytes),
            (r"/xapi/statements", settings.xapi_max_body_bytes),
        ],
    )
    app.add_middleware(XapiMiddleware, max_body=settings.xapi_max_body_bytes, default_version=settings.xapi_default_version)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    # FastAPI matches a request against each included router's routes in turn. The xAPI routes
    # come first: they take most of the traffic, and matching them through every other router
    # cost ~1 ms of CPU per request.
    for router in (xapi_router, auth_router, users_router, reference_router, courses_router, enrolments_router, assessments_router, packages_router, content_router, registrations_router, player_router, lrs_admin_router, ops_router):
        app.include_router(router)
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for `uvicorn --factory` (used by `rmtc serve`): settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    configure_gc(settings.gc_young_threshold)
    return create_app(settings)
