from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger, ForeignKey, Index, Integer, LargeBinary, PrimaryKeyConstraint, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow


class Statement(Base):
    """A statement as stored (JSON as received plus id, stored, authority, version), with the
    columns queries filter and order on."""

    __tablename__ = "xapi_statements"
    __table_args__ = (
        Index("ix_xapi_statements_stored_id", "stored", "id"),
        # Partial: most statements have neither (no B-tree entry to write for them).
        Index("ix_xapi_statements_user_stored", "user_id", "stored",
              sqlite_where=text("user_id IS NOT NULL"), postgresql_where=text("user_id IS NOT NULL")),
        Index("ix_xapi_statements_object_ref", "object_ref",
              sqlite_where=text("object_ref IS NOT NULL"), postgresql_where=text("object_ref IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stored: Mapped[dt.datetime] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column()
    verb_id: Mapped[str] = mapped_column(String(2048))
    actor_ifi: Mapped[str | None] = mapped_column(String(2048))
    object_ref: Mapped[uuid.UUID | None] = mapped_column()  # StatementRef target
    registration: Mapped[uuid.UUID | None] = mapped_column()
    voided: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column()  # the platform user the actor maps to
    credential: Mapped[str] = mapped_column(String(200))  # who wrote it: "user:<id>" / "client:<id>"
    has_attachments: Mapped[bool] = mapped_column(default=False)


class StatementTerm(Base):
    """A filter value of the statement index, once per (kind, value), with an integer id.
    Kinds: agent (actor/object and their group members), agent+ (agents related without being
    direct in the statement: authority, instructor, team, a SubStatement's), activity (object),
    activity+ (related without being the object), verb, registration. Terms are never deleted,
    so an id once committed stays valid (processes cache them: `app.xapi.terms`)."""

    __tablename__ = "xapi_statement_terms"
    __table_args__ = (UniqueConstraint("value", "kind"),)  # looked up by value

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    value: Mapped[str] = mapped_column(String(2048))


class StatementIndex(Base):
    """The terms of each statement: one row per term. Statements targeting another by
    StatementRef inherit its terms.

    The primary key (term_id, stored, statement_id) is the keyset of the queries: a filtered
    query reads the rows of its most selective term in `stored` order from its keyset position
    and stops after one page; the other filters of the query are point lookups of the whole
    key. New rows go to the end of their term's range. `stored` is the statement's stored time
    in microseconds since the epoch (UTC): with integer terms a row is ~30 bytes instead of
    ~140, and a commit writes half the pages. It is the table's only B-tree (on SQLite WITHOUT
    ROWID: the primary key is the table), and has no foreign keys (each row would cost a lookup):
    rows are written with their statement, in its transaction, and neither statements nor
    terms are ever deleted."""

    __tablename__ = "xapi_statement_index"
    __table_args__ = (
        PrimaryKeyConstraint("term_id", "stored", "statement_id"),
        {"sqlite_with_rowid": False},
    )

    term_id: Mapped[int] = mapped_column(BigInteger)
    stored: Mapped[int] = mapped_column(BigInteger)
    statement_id: Mapped[uuid.UUID] = mapped_column()


class Attachment(Base):
    __tablename__ = "xapi_attachments"

    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Activity(Base):
    """The canonical definition of an activity, merged from the statements that define it."""

    __tablename__ = "xapi_activities"

    id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Document(Base):
    """State, activity profile and agent profile documents. Absent key parts are '' so the
    unique constraint holds on every database."""

    __tablename__ = "xapi_documents"
    __table_args__ = (
        UniqueConstraint("kind", "activity_id", "agent_ifi", "registration", "doc_id"),
        Index("ix_xapi_documents_list", "kind", "activity_id", "agent_ifi", "registration", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    activity_id: Mapped[str] = mapped_column(String(2048), default="")
    agent_ifi: Mapped[str] = mapped_column(String(2048), default="")
    registration: Mapped[str] = mapped_column(String(36), default="")
    doc_id: Mapped[str] = mapped_column(String(2048))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(255))
    etag: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LrsClient(Base):
    """An LRS credential (HTTP Basic key/secret) with xAPI-style scopes."""

    __tablename__ = "xapi_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    # Optional restriction: only this country's learners' statements are readable.
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    # Temporary credentials (cmi5 fetch tokens, xAPI package launches) are limited to one actor
    # and registration.
    actor_ifi: Mapped[str | None] = mapped_column(Text)
    registration: Mapped[str | None] = mapped_column(String(36))
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
