"""Request-scoped dependencies shared by every domain router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import discard_after_commit, run_after_commit
from app.core.errors import AppError, Conflict, ServiceUnavailable
from app.core.i18n import parse_accept_language
from app.core.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent.

    Services only flush; this is the one place that commits. A failing request rolls back,
    except for errors that ask to keep their bookkeeping (`AppError.commit_session`).
    GET/HEAD/OPTIONS read (on SQLite a deferred transaction); other methods write.
    """
    yield from _transaction(request, writing=request.method not in ("GET", "HEAD", "OPTIONS"))


def get_write_session(request: Request) -> Iterator[Session]:
    """A writing transaction whatever the method: for the few GETs that write (opening a player
    page starts a run-time session). On SQLite it begins IMMEDIATE: a read transaction that later
    writes would fail at once if another writer got in first."""
    yield from _transaction(request, writing=True)


def _transaction(request: Request, *, writing: bool) -> Iterator[Session]:
    rt: Runtime = request.app.state.runtime
    session: Session = rt.session_factory(bind=rt.write_engine if writing else rt.engine)
    try:
        yield session
    except AppError as exc:
        discard_after_commit(session)
        if exc.commit_session:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        discard_after_commit(session)
        session.rollback()
        raise
    else:
        try:
            session.commit()
            run_after_commit(session)
        except IntegrityError as exc:
            discard_after_commit(session)
            session.rollback()
            raise Conflict("The change conflicts with a concurrent change; retry the request.") from exc
        except OperationalError as exc:
            discard_after_commit(session)
            session.rollback()
            raise ServiceUnavailable("The database is busy; retry the request.", headers={"Retry-After": "1"}) from exc
    finally:
        session.close()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(get_write_session, scope="function")]


def get_preferred_languages(
    request: Request,
    lang: Annotated[
        str | None, Query(description="Preferred language (BCP 47), overrides Accept-Language", max_length=35)
    ] = None,
) -> list[str]:
    preferred = parse_accept_language(request.headers.get("accept-language"))
    if lang:
        preferred.insert(0, lang)
    return preferred


PreferredLanguages = Annotated[list[str], Depends(get_preferred_languages)]
