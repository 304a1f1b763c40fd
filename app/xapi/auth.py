"""Who is calling the LRS, and what they may do.

LRS clients use HTTP Basic with a key and secret issued by an admin, with xAPI-style scopes.
Platform users use their JWT: a learner (or instructor) reads and writes only statements about
themselves; a coordinator reads their country's learners' statements; an admin reads all.
The authority of every stored statement is the credential, never what the client sent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.core.db import FastSelect
from app.core.errors import AppError, Forbidden, NotFound, ValidationFailed, field_error
from app.users.models import Role
from app.xapi.models import LrsClient

SCOPES = ("statements/write", "statements/read", "statements/read/mine", "state", "define", "profile", "all/read", "all")


class LrsUnauthorized(AppError):
    status = 401
    code = "lrs-unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str = "Send HTTP Basic credentials of an LRS client, or a bearer token."):
        super().__init__(detail, headers={"WWW-Authenticate": 'Basic realm="RMTC LRS"'})


@dataclass
class LrsAuth:
    credential: str  # stored with each statement: "client:<id>" or "user:<id>"
    authority: dict[str, Any]
    scopes: set[str]
    principal: Principal | None = None
    # Restrictions: the IFIs this caller may write/read as (learners, temporary credentials),
    # the country whose learners' statements are readable (coordinators), one registration.
    own_ifis: set[str] = field(default_factory=set)
    country_code: str | None = None
    registration: str | None = None

    def can(self, scope: str) -> bool:
        if "all" in self.scopes:
            return True
        if scope.endswith("/read") or scope in ("statements/read/mine",):
            if "all/read" in self.scopes:
                return True
        return scope in self.scopes

    def require(self, *scopes: str) -> None:
        if not any(self.can(s) for s in scopes):
            raise Forbidden(f"This credential lacks the scope {' or '.join(scopes)}.")

    @property
    def reads_everything(self) -> bool:
        return self.can("statements/read") and not self.own_ifis and self.country_code is None


def _hash_secret(pepper: str, secret: str) -> str:
    # Secrets are 32 random bytes: a keyed fast hash is enough, and keeps Basic auth cheap at
    # thousands of requests per second (argon2 is for human passwords).
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def user_agent(principal: Principal, base_url: str, full_name: str | None = None) -> dict[str, Any]:
    agent: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": base_url, "name": str(principal.user_id)}}
    if full_name:
        agent["name"] = full_name
    return agent


def user_ifis(principal: Principal, base_url: str) -> set[str]:
    return {f"account:{base_url}|{principal.user_id}", f"mbox:mailto:{principal.email.lower()}"}


def for_user(principal: Principal, base_url: str) -> LrsAuth:
    authority = user_agent(principal, base_url)
    if principal.role is Role.admin:
        return LrsAuth(credential=f"user:{principal.user_id}", authority=authority, scopes={"all"}, principal=principal)
    if principal.role is Role.coordinator:
        return LrsAuth(credential=f"user:{principal.user_id}", authority=authority, scopes={"all/read"},
                       principal=principal, country_code=principal.country_code)
    return LrsAuth(
        credential=f"user:{principal.user_id}", authority=authority,
        scopes={"statements/write", "statements/read/mine", "state", "profile", "all/read"},
        principal=principal, own_ifis=user_ifis(principal, base_url),
    )


def parse_basic(header: str) -> tuple[str, str]:
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
        key, secret = raw.split(":", 1)
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        raise LrsUnauthorized("Malformed Basic credentials.") from None
    return key, secret


_CLIENT_BY_KEY = FastSelect(select(
    LrsClient.id, LrsClient.key, LrsClient.name, LrsClient.secret_hash, LrsClient.scopes, LrsClient.revoked_at,
    LrsClient.expires_at, LrsClient.actor_ifi, LrsClient.country_code, LrsClient.registration,
).where(LrsClient.key == bindparam("key")))


def for_client(session: Session, pepper: str, base_url: str, key: str, secret: str, now: dt.datetime) -> LrsAuth:
    # A prebuilt query (on SQLite on the DBAPI connection): it runs for every xAPI request.
    found = _CLIENT_BY_KEY.rows(session.connection(), key=key)
    client = found[0] if found else None
    expected = client.secret_hash if client else _hash_secret(pepper, "no-such-client")
    if not hmac.compare_digest(expected, _hash_secret(pepper, secret)) or client is None:
        raise LrsUnauthorized("Unknown key or wrong secret.")
    if client.revoked_at is not None or (client.expires_at is not None and client.expires_at <= now):
        raise LrsUnauthorized("This credential is revoked or expired.")
    authority = {"objectType": "Agent", "name": client.name, "account": {"homePage": base_url, "name": f"lrs-client:{client.key}"}}
    return LrsAuth(
        credential=f"client:{client.id}", authority=authority, scopes=set(client.scopes),
        own_ifis={client.actor_ifi} if client.actor_ifi else set(), country_code=client.country_code,
        registration=client.registration,
    )


# Managing clients (admin API) --------------------------------------------------------------


def create_client(
    session: Session, pepper: str, principal: Principal, *, name: str, scopes: list[str], country_code: str | None,
    expires_at: dt.datetime | None = None, actor_ifi: str | None = None, registration: str | None = None,
) -> tuple[LrsClient, str]:
    if not principal.is_admin:
        raise Forbidden("Only admins issue LRS credentials.")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValidationFailed(
            f"Unknown scopes: {', '.join(unknown)}" if unknown else "At least one scope is needed.",
            errors=[field_error(["body", "scopes"], f"allowed: {', '.join(SCOPES)}")],
        )
    secret = secrets.token_urlsafe(32)
    client = LrsClient(
        name=name, key=secrets.token_hex(10), secret_hash=_hash_secret(pepper, secret), scopes=list(dict.fromkeys(scopes)),
        country_code=country_code, created_by_id=principal.user_id, expires_at=expires_at, actor_ifi=actor_ifi,
        registration=registration,
    )
    session.add(client)
    session.flush()
    return client, secret


def issue_temporary(
    session: Session, pepper: str, *, name: str, scopes: list[str], actor_ifi: str, registration: str | None,
    expires_at: dt.datetime,
) -> tuple[LrsClient, str]:
    """A short-lived credential limited to one learner (and registration): cmi5 and xAPI launches."""
    secret = secrets.token_urlsafe(32)
    client = LrsClient(name=name, key=secrets.token_hex(10), secret_hash=_hash_secret(pepper, secret), scopes=scopes,
                       expires_at=expires_at, actor_ifi=actor_ifi, registration=registration)
    session.add(client)
    session.flush()
    return client, secret


def list_clients(session: Session, principal: Principal) -> list[LrsClient]:
    if not principal.is_admin:
        raise Forbidden("Only admins manage LRS credentials.")
    return list(session.scalars(select(LrsClient).where(LrsClient.actor_ifi.is_(None)).order_by(LrsClient.created_at)))


def revoke_client(session: Session, principal: Principal, client_id: uuid.UUID, now: dt.datetime) -> LrsClient:
    if not principal.is_admin:
        raise Forbidden("Only admins manage LRS credentials.")
    client = session.get(LrsClient, client_id)
    if client is None:
        raise NotFound(f"No LRS client {client_id}.")
    client.revoked_at = client.revoked_at or now
    session.flush()
    return client
