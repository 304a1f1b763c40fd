"""FastSelect (app.core.db): on SQLite inside a transaction the query runs on the DBAPI
connection; it must return what SQLAlchemy returns for the same query, types included."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, func, insert, select

from app.core.db import FastSelect, execute_many, make_engine
from app.xapi.models import Statement
from app.xapi.statements import VOIDED

S = Statement.__table__
BY_IDS = select(S.c.id, S.c.stored, S.c.data, S.c.voided, S.c.registration).where(S.c.id.in_(bindparam("ids", expanding=True)))
VOIDING = select(S.c.object_ref).where(S.c.object_ref.in_(bindparam("ids", expanding=True)), S.c.verb_id == VOIDED)
LATEST = select(func.max(S.c.stored))


def _row(sid, stored, verb, *, object_ref=None, registration=None):
    return {"id": sid, "stored": stored, "data": {"id": str(sid), "verb": {"id": verb}, "ünïcode": "Крагујевац"},
            "verb_id": verb, "actor_ifi": "mbox:mailto:a@b.c", "object_ref": object_ref, "registration": registration,
            "voided": False, "user_id": None, "credential": "client:x", "has_attachments": False}


def test_results_equal_sqlalchemys(database_url):
    engine = make_engine(database_url)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t0 = dt.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=dt.UTC)
    try:
        with engine.begin() as conn:
            conn.execute(insert(S), [
                _row(a, t0, "http://adlnet.gov/expapi/verbs/passed", registration=uuid.uuid4()),
                _row(b, t0 + dt.timedelta(microseconds=1), VOIDED, object_ref=a),
                _row(c, t0 + dt.timedelta(seconds=1), "http://adlnet.gov/expapi/verbs/voided-not", object_ref=a),
            ])
            for query, params in ((BY_IDS, {"ids": [a, b, uuid.uuid4()]}), (VOIDING, {"ids": [a, c]}), (LATEST, {})):
                fast = FastSelect(query).rows(conn, **params)
                assert conn.dialect.name != "sqlite" or conn.in_transaction()
                expected = [tuple(r) for r in conn.execute(query, params)]
                assert [tuple(r) for r in fast] == expected and expected
            got = {r.id: r for r in FastSelect(BY_IDS).rows(conn, ids=[a, b])}
            assert got[a].stored == t0 and got[a].stored.tzinfo is not None  # aware UTC, microseconds kept
            assert got[a].data["ünïcode"] == "Крагујевац" and isinstance(got[a].registration, uuid.UUID)
            assert got[b].voided is False
            assert FastSelect(VOIDING).scalars(conn, ids=[a, b, c]) == [a]  # the fixed parameter (verb) applies
            assert FastSelect(LATEST).scalar(conn) == t0 + dt.timedelta(seconds=1)
            assert FastSelect(BY_IDS).rows(conn, ids=[]) == []
            # Several expansions of one query do not leak into each other (the SQL is per call).
            assert len(FastSelect(BY_IDS).rows(conn, ids=[a])) == 1
        # Outside a transaction SQLAlchemy runs it (and begins one).
        with engine.connect() as conn:
            assert FastSelect(LATEST).scalar(conn) == t0 + dt.timedelta(seconds=1)
    finally:
        engine.dispose()


def test_execute_many_joins_the_transaction(database_url):
    engine = make_engine(database_url)
    sid = uuid.uuid4()
    row = _row(sid, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "http://adlnet.gov/expapi/verbs/passed")
    compiled = insert(S).compile(dialect=engine.dialect, column_keys=list(row))
    try:
        with engine.connect() as conn:
            with conn.begin() as tx:
                bind = {k: S.c[k].type._cached_bind_processor(engine.dialect) or (lambda v: v) for k in row}
                values = {k: bind[k](row[k]) for k in bind}
                params = [tuple(values[k] for k in compiled.positiontup)] if compiled.positional else [values]
                execute_many(conn, compiled.string, params)
                assert FastSelect(BY_IDS).scalars(conn, ids=[sid]) == [sid]
                tx.rollback()  # the insert was part of the transaction: rolled back with it
            assert conn.execute(select(S.c.id).where(S.c.id == sid)).first() is None
    finally:
        engine.dispose()
