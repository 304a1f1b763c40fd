"""Settings, read from `RMTC_*` environment variables (and an optional `.env`).

Nothing reads settings at import time: `Settings()` is built by the CLI or the app factory and
passed down, so a test can build as many isolated apps as it likes.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

DEV_SECRET_KEY = "rmtc-development-secret-key-change-me"


class ConfigurationError(RuntimeError):
    """The settings cannot run the service (e.g. production with development secrets)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RMTC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in the data dir"
    )
    database_pool_size: int = 10
    database_echo: bool = False
    sqlite_checkpoint_interval: float = Field(
        default=0.25, ge=0, description="SQLite: seconds between WAL checkpoints run in the background while there "
        "are commits (app.core.checkpointer); 0: the committing connection checkpoints (SQLite's default)"
    )

    worker_recycle_statements: int = Field(
        default=300_000, ge=0, description="`rmtc serve --workers N` (N > 1): a worker ends after writing about this "
        "many xAPI statements (+-25%) and a new one takes its place, one at a time (app.core.recycling); 0: never"
    )

    # Base URL the API is reached at (used in links such as `next` and xAPI `more`).
    public_base_url: str = "http://127.0.0.1:8000"

    storage_backend: Literal["local", "s3"] = "local"
    storage_local_dir: Path | None = None
    s3_endpoint_url: str | None = None
    s3_bucket: str = "rmtc"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""

    # HMAC secret for the platform's own short-lived signed tokens (content delivery, launches).
    secret_key: str = DEV_SECRET_KEY

    jwt_algorithm: Literal["ES256", "RS256"] = "ES256"
    jwt_private_key: str | None = Field(default=None, description="PEM text of the signing key")
    jwt_private_key_file: Path | None = Field(
        default=None, description="PEM file of the signing key; default: generated into <data dir>/keys"
    )
    jwt_issuer: str = "rmtc"
    jwt_audience: str = "rmtc-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    refresh_token_ttl_seconds: int = Field(default=14 * 86400, ge=300)

    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)

    password_min_length: int = Field(default=10, ge=8)
    # Argon2id cost. Defaults follow RFC 9106's second recommended option; tests lower them.
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 4

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    docs_enabled: bool | None = Field(default=None, description="default: on in development, off in production")
    max_request_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_resource_bytes: int = Field(default=512 * 1024 * 1024, ge=1024, description="module resource files")
    max_cover_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="course cover images")

    # Content packages.
    content_base_url: str | None = Field(
        default=None, description="Origin that serves package files (a separate origin in production)"
    )
    content_token_ttl_seconds: int = Field(default=4 * 3600, ge=60)
    package_max_bytes: int = Field(default=1024**3, ge=1024, description="compressed upload size")
    package_max_uncompressed_bytes: int = Field(default=4 * 1024**3, ge=1024)
    package_max_files: int = Field(default=20000, ge=1)
    package_max_ratio: float = Field(default=200.0, ge=1)
    package_worker_poll_seconds: float = Field(default=1.0, gt=0)
    package_worker_enabled: bool = True

    assessment_sweep_seconds: float = Field(
        default=60, ge=0, description="How often each process closes attempts past their deadline (0: never)"
    )

    xapi_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="statements with attachments")
    xapi_default_version: Literal["2.0.0", "1.0.3"] = Field(
        default="2.0.0",
        description="X-Experience-API-Version of answers to requests that name no version (errors: the header is "
        "required). xAPI 2.0 asks for the latest supported version; a deployment serving 1.0.3 clients only may say 1.0.3.",
    )

    log_level: str = "INFO"
    log_json: bool = True
    gc_young_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Serving processes: net allocations of container objects after which Python's cyclic garbage "
        "collector runs a young-generation collection (Python's default: 700; 0 keeps it). Almost everything a request "
        "allocates is freed by reference counting; at 700 the collector ran ~60 times a second under statement load "
        "and its full collections (~0.1 s, each scanning every object of the process) took ~8% of a worker's time.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("RMTC_SECRET_KEY must be set to a random value of at least 32 characters")
        if not self.jwt_private_key and not self.jwt_private_key_file:
            problems.append(
                "RMTC_JWT_PRIVATE_KEY or RMTC_JWT_PRIVATE_KEY_FILE must be set "
                "(every worker must sign with the same key)"
            )
        if problems:
            raise ConfigurationError("refusing to start in production: " + "; ".join(problems))
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rmtc.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def content_origin(self) -> str:
        return (self.content_base_url or self.public_base_url).rstrip("/")

    @property
    def docs_on(self) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return self.env != "production"

    @property
    def local_storage_dir(self) -> Path:
        return self.storage_local_dir or (self.data_dir / "storage")

    @property
    def jwt_key_path(self) -> Path:
        return self.jwt_private_key_file or (self.data_dir / "keys" / f"jwt-{self.jwt_algorithm.lower()}.pem")
