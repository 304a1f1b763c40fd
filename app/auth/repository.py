from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ColumnElement, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.auth.models import AuthSession, LoginThrottle, RefreshToken
from app.users.models import User


def throttle_rows(session: Session, keys: list[str]) -> list[LoginThrottle]:
    return list(session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))))


def record_failure(session: Session, key: str, *, now: dt.datetime, window_start_cutoff: dt.datetime) -> None:
    """Atomic upsert: count a failure, starting a new window when the old one has passed."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = LoginThrottle.__table__
    stmt = insert(table).values(key=key, failures=1, window_start=now)
    expired = table.c.window_start < window_start_cutoff
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((expired, 1), else_=table.c.failures + 1),
            "window_start": case((expired, now), else_=table.c.window_start),
        },
    )
    session.execute(stmt)


def clear_throttle(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def purge_throttle(session: Session, *, older_than: dt.datetime) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.window_start < older_than))


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def find_refresh_token(session: Session, token_hash: str) -> tuple[RefreshToken, AuthSession] | None:
    stmt = (
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_hash)
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None


def mark_used(session: Session, token_id: uuid.UUID, now: dt.datetime) -> bool:
    """Claim a refresh token; false when another request used it first."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _revoke(session: Session, condition: ColumnElement[bool], *, now: dt.datetime, reason: str) -> None:
    session.execute(
        update(AuthSession)
        .where(condition, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


def revoke_session(session: Session, session_id: uuid.UUID, *, now: dt.datetime, reason: str) -> None:
    _revoke(session, AuthSession.id == session_id, now=now, reason=reason)


def revoke_user_sessions(session: Session, user_id: uuid.UUID, *, now: dt.datetime, reason: str) -> None:
    _revoke(session, AuthSession.user_id == user_id, now=now, reason=reason)


def session_with_user(session: Session, session_id: uuid.UUID) -> tuple[AuthSession, User] | None:
    stmt = (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == session_id)
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None


def list_active_sessions(session: Session, user_id: uuid.UUID, now: dt.datetime) -> list[AuthSession]:
    stmt = (
        select(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)
        .order_by(AuthSession.created_at.desc())
    )
    return list(session.scalars(stmt))
