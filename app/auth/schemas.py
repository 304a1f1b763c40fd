from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Secret = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Access token lifetime in seconds", examples=[900])


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Secret
    new_password: Secret


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_password: Secret


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    created_at: dt.datetime
    last_refreshed_at: dt.datetime | None
    expires_at: dt.datetime
    client_address: str | None
    user_agent: str | None
