"""Statement hooks: rules other domains add to the LRS write path.

A profile such as cmi5 constrains what certain credentials may write (an AU's statements must
follow its session) and reacts to what they wrote (satisfaction, progress). The LRS knows only
this protocol; the app's composition installs the hooks on its session factory, and
`statements.store` calls them inside the writing transaction for the statements that are new:
`check` may refuse the batch (raising an `AppError`) before anything is written; `after` runs
once they are inserted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from app.xapi.auth import LrsAuth

KEY = "xapi_statement_hooks"


class StatementHook(Protocol):
    def check(self, session: Session, auth: LrsAuth, statements: list[dict[str, Any]], now: dt.datetime) -> None: ...

    def after(self, session: Session, auth: LrsAuth, statements: list[dict[str, Any]], now: dt.datetime) -> None: ...


def install(session_factory: sessionmaker, hooks: Iterable[StatementHook]) -> None:
    session_factory.kw.setdefault("info", {})[KEY] = tuple(hooks)


def of(session: Session) -> tuple[StatementHook, ...]:
    return session.info.get(KEY, ())
