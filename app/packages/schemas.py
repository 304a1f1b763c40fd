from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.packages.models import Standard, VersionStatus


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    position: int
    identifier: str
    kind: str = Field(description="sco, asset, au or activity")
    title: dict[str, str]
    launch: str = Field(description="Path inside the package, or an absolute URL")
    parameters: str | None
    data: dict[str, Any] = Field(description="mastery_score, completion_threshold, move_on, ...")


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    package_id: uuid.UUID
    number: int
    status: VersionStatus
    standard: Standard | None
    edition: str | None
    title: dict[str, str]
    description: dict[str, str]
    source_filename: str | None
    source_kind: str
    size_bytes: int | None
    uncompressed_bytes: int | None
    file_count: int | None
    report: dict[str, Any] = Field(description="`errors` (refused) and `warnings`")
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class VersionDetail(VersionOut):
    units: list[UnitOut]
    structure: dict[str, Any] = Field(description="Activity tree and other manifest data (sequencing, shared data)")


class PackageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    title: dict[str, str]
    standard: Standard | None
    identifier: str | None
    latest_ready_version: int | None
    owner_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    versions: list[VersionOut] = []


class DirectUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str | None = Field(default=None, max_length=255)
    package_id: uuid.UUID | None = Field(default=None, description="Upload a new version of this package")


class DirectUpload(BaseModel):
    version: VersionOut
    upload_url: str = Field(description="PUT the zip here (presigned S3 URL, or the API's own upload endpoint)")
    method: str = "PUT"
    authenticated: bool = Field(description="True when the URL is the API's own: send your bearer token")
    import_url: str = Field(description="POST here once the upload is complete")


class AttachPackage(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"package_id": "0b6f3c1e-2f7a-4d7e-9a59-4f1f6b2d9c10", "max_attempts": 3, "grading_method": "highest"}]})
    package_id: uuid.UUID
    max_attempts: int | None = Field(default=None, ge=1, le=1000, description="attempts allowed; none: unlimited")
    new_attempt_after_completion: bool = Field(default=True, description="a completed attempt may be followed by a new one")
    grading_method: Literal["highest", "average", "first", "last"] = "highest"


class PreviewOut(BaseModel):
    version: int
    units: list[dict[str, Any]] = Field(description="Each unit with a short-lived `url` on the content origin")
