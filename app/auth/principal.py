"""Who is calling: the authenticated user with the role and country read from the database on
this request (so a demotion or a move takes effect at once)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.users.models import Role


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    email: str
    role: Role
    country_code: str
    session_id: uuid.UUID

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    @property
    def is_coordinator(self) -> bool:
        return self.role is Role.coordinator

    @property
    def is_instructor(self) -> bool:
        return self.role is Role.instructor
