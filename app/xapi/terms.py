"""The terms of the statement index: each filter value (kind, value) once, with an integer id.

A process keeps the ids it has seen committed in a cache (one per database, see
`app.core.db.database_cache`): terms are never deleted, so a committed id stays valid. Ids read
inside a transaction that has created terms itself are not cached: the transaction may still be
rolled back (also to a savepoint), and the id with it.
Writers create the terms they miss (INSERT ... ON CONFLICT DO NOTHING, in key order, so that
concurrent PostgreSQL transactions creating the same terms neither fail nor deadlock).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.core.db import FastSelect, database_cache, execute_many
from app.xapi.models import StatementTerm

Key = tuple[str, str]  # (kind, value)
MAX_VALUE = 2048  # bytes of a value in the terms table (see `key`)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_T = StatementTerm.__table__
_BY_VALUE = FastSelect(select(_T.c.id, _T.c.kind, _T.c.value).where(_T.c.value.in_(bindparam("values", expanding=True))))
_CREATED = "xapi_terms_created"  # session.info: this session's transaction(s) created terms

# The cache: (kind, value) -> id of the terms seen committed; forgotten all at once beyond the
# maximum (~15 MiB), so that memory stays flat however many learners and activities there are.
CACHE = "xapi_terms"
CACHE_MAX = 100_000


def key(kind: str, value: str) -> Key:
    """The key of a filter value. A value of more than 2048 UTF-8 bytes (a PostgreSQL B-tree entry
    holds ~2700) is kept as its first 1976 bytes and its SHA-256: distinct long values keep
    distinct keys."""
    if len(value) > MAX_VALUE // 4:
        encoded = value.encode()
        if len(encoded) > MAX_VALUE:
            digest = hashlib.sha256(encoded).hexdigest()
            value = encoded[:MAX_VALUE - 72].decode("utf-8", "ignore") + "#sha256=" + digest
    return (kind, value)


def micros(value: dt.datetime) -> int:
    """A stored time as the index keeps it: microseconds since the epoch (UTC; a naive time is
    taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)


def ids(session: Session, keys: Iterable[Key], *, create: bool = False) -> dict[Key, int]:
    """The ids of `keys` (made with `key`); those without a term are missing from the answer,
    unless `create`: then they are created in the session's transaction."""
    cache = database_cache(session, CACHE)
    found: dict[Key, int] = {}
    missing: list[Key] = []
    for k in keys:
        term = cache.get(k)
        if term is None:
            missing.append(k)
        else:
            found[k] = term
    if not missing:
        return found
    conn = session.connection()
    _lookup(session, conn, cache, missing, found)
    if create:
        new = sorted({k for k in missing if k not in found})
        if new:
            session.info[_CREATED] = True
            if conn.dialect.name == "postgresql":
                conn.execute(_PG_INSERT, [{"kind": kind, "value": value} for kind, value in new])
            else:
                execute_many(conn, _SQLITE_INSERT, new)
            _lookup(session, conn, cache, new, found)
    return found


def _lookup(session: Session, conn: Any, cache: dict[Key, int], wanted: list[Key], found: dict[Key, int]) -> None:
    want = set(wanted)
    cacheable = not session.info.get(_CREATED)
    if cacheable and len(cache) + len(want) > CACHE_MAX:
        cache.clear()
    for term_id, kind, value in _BY_VALUE.rows(conn, values=list({v for _, v in want})):
        k = (kind, value)
        if k in want:
            found[k] = term_id
            if cacheable:
                cache[k] = term_id


# SQLite (3.24+) knows ON CONFLICT DO NOTHING too; its writers are serialised anyway.
_SQLITE_INSERT = "INSERT INTO xapi_statement_terms (kind, value) VALUES (?, ?) ON CONFLICT (value, kind) DO NOTHING"
_PG_INSERT = pg_insert(_T).on_conflict_do_nothing(index_elements=[_T.c.value, _T.c.kind])
