"""Users and the country scoping model.

- admin: everyone, every field.
- coordinator: sees the people of their own country; creates, edits, deactivates and resets the
  passwords of *learners* of that country; can neither change roles nor move people across countries.
- instructor, learner: themselves only.
Out-of-scope users are not found (404), exactly like missing ids.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.core.pagination import decode_cursor, encode_cursor
from app.core.passwords import PasswordHashing
from app.core.patching import apply_changes
from app.reference import service as reference_service
from app.users import repository
from app.users.models import Role, User
from app.users.schemas import UserCreate, UserFilters, UserSelfUpdate, UserUpdate

MIN_PASSWORD_LENGTH = 10
COORDINATOR_MANAGED_ROLES = frozenset({Role.learner})
# Fields a coordinator may not set on anyone; a manager may not set on themselves.
PRIVILEGED_FIELDS = ("role", "country_code")


class EmailTaken(Conflict):
    code = "email-taken"
    title = "Email already registered"


def validate_password(password: str, *, email: str, min_length: int = MIN_PASSWORD_LENGTH) -> None:
    problems = []
    if len(password) < min_length:
        problems.append(f"at least {min_length} characters")
    if password.strip().lower() == email.lower() or password.strip().lower() == email.split("@")[0].lower():
        problems.append("different from the email address")
    if len(set(password)) < 4:
        problems.append("more than three distinct characters")
    if problems:
        raise ValidationFailed(
            "The password must have " + " and ".join(problems) + ".",
            errors=[field_error(["body", "password"], "; ".join(problems), "weak_password")],
        )


def find_by_email(session: Session, email: str) -> User | None:
    return repository.get_by_email(session, email)


def get_by_id(session: Session, user_id: uuid.UUID) -> User | None:
    return repository.get(session, user_id)


def store_password_hash(user: User, password_hash: str, *, now: dt.datetime | None) -> None:
    user.password_hash = password_hash
    if now is not None:
        user.password_changed_at = now


def set_password(
    session: Session, passwords: PasswordHashing, user: User, new_password: str, *, now: dt.datetime
) -> None:
    validate_password(new_password, email=user.email)
    store_password_hash(user, passwords.hash(new_password), now=now)
    session.flush()


def get_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = repository.get_visible(session, principal, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


def get_manageable_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    """A user the caller may change: visible, and within what their role manages."""
    user = get_user(session, principal, user_id)
    if principal.is_admin:
        return user
    if principal.is_coordinator and user.role in COORDINATOR_MANAGED_ROLES:
        return user
    raise Forbidden("Your role cannot manage this user.")


def list_users(
    session: Session, principal: Principal, filters: UserFilters, *, cursor: str | None, limit: int
) -> tuple[list[User], str | None]:
    after = decode_cursor(cursor, 1)[0] if cursor else None
    if after is not None and not isinstance(after, str):
        after = None
    rows = repository.list_visible(session, principal, filters, after_email=after, limit=limit + 1)
    next_cursor = encode_cursor([rows[limit - 1].email]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _check_email_free(session: Session, email: str, *, except_id: uuid.UUID | None = None) -> str:
    normalised = email.strip().lower()
    existing = repository.get_by_email(session, normalised)
    if existing is not None and existing.id != except_id:
        raise EmailTaken(f"A user with email {normalised} exists already.")
    return normalised


def create_user(session: Session, principal: Principal, data: UserCreate, passwords: PasswordHashing) -> User:
    if principal.is_coordinator:
        if data.country_code != principal.country_code:
            raise Forbidden("Coordinators create users of their own country only.")
        if data.role not in COORDINATOR_MANAGED_ROLES:
            raise Forbidden(f"Coordinators cannot grant the {data.role.value} role.")
    elif not principal.is_admin:
        raise Forbidden("Your role cannot create users.")
    reference_service.require_active_country(session, data.country_code)
    language = reference_service.require_active_language(session, data.preferred_language)
    if data.institution_id:
        reference_service.require_institution_in_country(session, data.institution_id, data.country_code)
    email = _check_email_free(session, str(data.email))
    user = User(
        email=email,
        full_name=data.full_name,
        role=data.role,
        country_code=data.country_code,
        institution_id=data.institution_id,
        preferred_language=language.tag,
        sex=data.sex,
        job_title=data.job_title,
        created_by_id=principal.user_id,
    )
    if data.password is not None:
        validate_password(data.password, email=email)
        user.password_hash = passwords.hash(data.password)
    repository.add(session, user)
    return user


def _refuse_fields(fields: list[str], reason: str) -> None:
    if fields:
        raise ValidationFailed(
            f"You may not change: {', '.join(fields)} ({reason}).",
            errors=[field_error(["body", name], reason, "field_not_permitted") for name in fields],
        )


def _apply_update(session: Session, user: User, changes: dict) -> User:
    if "email" in changes and changes["email"] is not None:
        changes["email"] = _check_email_free(session, str(changes["email"]), except_id=user.id)
    if changes.get("preferred_language") is not None:
        changes["preferred_language"] = reference_service.require_active_language(
            session, changes["preferred_language"]
        ).tag
    country = changes.get("country_code") or user.country_code
    if changes.get("country_code") is not None:
        reference_service.require_active_country(session, country)
        if "institution_id" not in changes and user.institution_id is not None:
            changes["institution_id"] = None  # the old institution belongs to the old country
    if changes.get("institution_id") is not None:
        reference_service.require_institution_in_country(session, changes["institution_id"], country)
    apply_changes(user, changes, nullable=frozenset({"institution_id", "sex", "job_title"}))
    session.flush()
    return user


def update_self(session: Session, principal: Principal, data: UserSelfUpdate) -> User:
    user = get_user(session, principal, principal.user_id)
    return _apply_update(session, user, data.model_dump(exclude_unset=True))


def update_user(session: Session, principal: Principal, user_id: uuid.UUID, data: UserUpdate) -> User:
    user = get_user(session, principal, user_id)
    changes = data.model_dump(exclude_unset=True)
    if user.id == principal.user_id:
        # Nobody raises their own role, moves themselves, or switches themselves off.
        _refuse_fields([f for f in (*PRIVILEGED_FIELDS, "is_active") if f in changes], "not on your own account")
        return _apply_update(session, user, changes)
    user = get_manageable_user(session, principal, user_id)
    if not principal.is_admin:
        _refuse_fields([f for f in PRIVILEGED_FIELDS if f in changes], "admins only")
    return _apply_update(session, user, changes)


def set_active(session: Session, principal: Principal, user_id: uuid.UUID, *, active: bool) -> User:
    if user_id == principal.user_id:
        raise Forbidden("You cannot activate or deactivate your own account.")
    user = get_manageable_user(session, principal, user_id)
    user.is_active = active
    session.flush()
    return user


def ensure_admin(
    session: Session, passwords: PasswordHashing, *, email: str, password: str, full_name: str, country_code: str
) -> tuple[User, bool]:
    """Create an admin, or promote/reset the existing account with that email (CLI use)."""
    normalised = email.strip().lower()
    validate_password(password, email=normalised)
    reference_service.require_active_country(session, country_code)
    user = repository.get_by_email(session, normalised)
    created = user is None
    if user is None:
        user = User(email=normalised, full_name=full_name, role=Role.admin, country_code=country_code)
        repository.add(session, user)
    user.role = Role.admin
    user.is_active = True
    user.password_hash = passwords.hash(password)
    session.flush()
    return user, created


def find_visible_by_email(session: Session, principal: Principal, email: str) -> User | None:
    user = repository.get_by_email(session, email)
    if user is None:
        return None
    return repository.get_visible(session, principal, user.id)
