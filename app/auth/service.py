"""Sign-in, rotating refresh tokens, sign-out, password changes, and access-token resolution."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.auth import repository
from app.auth.models import AuthSession, RefreshToken
from app.auth.principal import Principal
from app.core.errors import TooManyRequests, Unauthorized
from app.core.runtime import Runtime
from app.core.tokens import TokenError
from app.users import service as users_service

INVALID_LOGIN = "Invalid email or password."


class InvalidCredentials(Unauthorized):
    code = "invalid-credentials"
    title = "Invalid credentials"
    commit_session = True  # the failure counts towards the rate limit


class InvalidRefreshToken(Unauthorized):
    code = "invalid-refresh-token"
    title = "Invalid refresh token"


class RefreshTokenReused(InvalidRefreshToken):
    code = "refresh-token-reused"
    title = "Refresh token re-used"
    commit_session = True  # the revoked family must stay revoked


class InvalidAccessToken(Unauthorized):
    code = "invalid-token"
    title = "Invalid or expired access token"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttle_keys(email: str, client_address: str | None) -> tuple[str, str]:
    return f"account:{email.strip().lower()}", f"address:{client_address or 'unknown'}"


def _check_throttle(session: Session, rt: Runtime, account_key: str, address_key: str, now: dt.datetime) -> None:
    settings = rt.settings
    window = dt.timedelta(seconds=settings.login_failure_window_seconds)
    limits = {account_key: settings.login_max_failures_per_account, address_key: settings.login_max_failures_per_address}
    for row in repository.throttle_rows(session, [account_key, address_key]):
        if row.window_start + window > now and row.failures >= limits[row.key]:
            retry_after = int((row.window_start + window - now).total_seconds()) + 1
            raise TooManyRequests(
                "Too many failed sign-in attempts; try again later.", retry_after=retry_after
            )


def _issue(
    session: Session, rt: Runtime, auth_session: AuthSession, *, now: dt.datetime
) -> TokenPair:
    refresh = secrets.token_urlsafe(48)
    repository.add(session, RefreshToken(session_id=auth_session.id, token_hash=_hash_refresh(refresh), created_at=now))
    access, _ = rt.signer.issue_access_token(
        subject=str(auth_session.user_id), session_id=str(auth_session.id), now=now
    )
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=rt.settings.access_token_ttl_seconds)


def login(
    session: Session,
    rt: Runtime,
    *,
    email: str,
    password: str,
    client_address: str | None,
    user_agent: str | None,
    now: dt.datetime,
) -> TokenPair:
    account_key, address_key = _throttle_keys(email, client_address)
    _check_throttle(session, rt, account_key, address_key, now)
    user = users_service.find_by_email(session, email)
    # Always verify against a hash (a dummy one for unknown emails): equal cost, equal answer.
    ok = rt.passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        cutoff = now - dt.timedelta(seconds=rt.settings.login_failure_window_seconds)
        repository.record_failure(session, account_key, now=now, window_start_cutoff=cutoff)
        repository.record_failure(session, address_key, now=now, window_start_cutoff=cutoff)
        raise InvalidCredentials(INVALID_LOGIN)
    repository.clear_throttle(session, account_key)
    if rt.passwords.needs_rehash(user.password_hash or ""):
        users_service.store_password_hash(user, rt.passwords.hash(password), now=None)
    user.last_login_at = now
    auth_session = AuthSession(
        user_id=user.id,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=rt.settings.refresh_token_ttl_seconds),
        client_address=(client_address or "")[:64] or None,
        user_agent=(user_agent or "")[:300] or None,
    )
    repository.add(session, auth_session)
    return _issue(session, rt, auth_session, now=now)


def refresh(session: Session, rt: Runtime, *, refresh_token: str, now: dt.datetime) -> TokenPair:
    found = repository.find_refresh_token(session, _hash_refresh(refresh_token))
    if found is None:
        raise InvalidRefreshToken("Unknown refresh token.")
    token, auth_session = found
    if auth_session.revoked_at is not None or auth_session.expires_at <= now:
        raise InvalidRefreshToken("This sign-in has ended; sign in again.")
    if token.used_at is not None or not repository.mark_used(session, token.id, now):
        # A rotated token presented again: someone holds a copy. End the whole family.
        repository.revoke_session(session, auth_session.id, now=now, reason="refresh_token_reuse")
        raise RefreshTokenReused("This refresh token was already used; the sign-in has been revoked.")
    user = users_service.get_by_id(session, auth_session.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken("This account is not active.")
    auth_session.last_refreshed_at = now
    return _issue(session, rt, auth_session, now=now)


def logout(session: Session, *, refresh_token: str, now: dt.datetime) -> None:
    found = repository.find_refresh_token(session, _hash_refresh(refresh_token))
    if found is not None:
        repository.revoke_session(session, found[1].id, now=now, reason="logout")


def revoke_all_sessions(session: Session, user_id: uuid.UUID, *, now: dt.datetime, reason: str) -> None:
    repository.revoke_user_sessions(session, user_id, now=now, reason=reason)


def change_own_password(
    session: Session, rt: Runtime, principal: Principal, *, current_password: str, new_password: str, now: dt.datetime
) -> None:
    user = users_service.get_by_id(session, principal.user_id)
    if user is None or not rt.passwords.verify(user.password_hash, current_password):
        raise InvalidCredentials("The current password is not correct.")
    users_service.set_password(session, rt.passwords, user, new_password, now=now)
    revoke_all_sessions(session, user.id, now=now, reason="password_changed")


def reset_password(
    session: Session, rt: Runtime, principal: Principal, user_id: uuid.UUID, *, new_password: str, now: dt.datetime
) -> None:
    """An admin (or the coordinator of the user's country) sets a new password for someone."""
    user = users_service.get_manageable_user(session, principal, user_id)
    users_service.set_password(session, rt.passwords, user, new_password, now=now)
    revoke_all_sessions(session, user.id, now=now, reason="password_reset")


def resolve_access_token(session: Session, rt: Runtime, token: str, *, now: dt.datetime) -> Principal:
    try:
        claims = rt.signer.verify_access_token(token)
        session_id = uuid.UUID(claims.sid)
        user_id = uuid.UUID(claims.sub)
    except (TokenError, ValueError) as exc:
        raise InvalidAccessToken("The access token is invalid or expired.") from exc
    found = repository.session_with_user(session, session_id)
    if found is None:
        raise InvalidAccessToken("The access token is invalid or expired.")
    auth_session, user = found
    if (
        user.id != user_id
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
        or not user.is_active
    ):
        raise InvalidAccessToken("The access token is no longer valid; sign in again.")
    return Principal(
        user_id=user.id, email=user.email, role=user.role, country_code=user.country_code, session_id=auth_session.id
    )


def list_sessions(session: Session, principal: Principal, *, now: dt.datetime) -> list[AuthSession]:
    return repository.list_active_sessions(session, principal.user_id, now)
