"""The statement index's terms: ids cached only once committed, per database; long values; the
migration to integer terms keeps every index row."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import dbmigrate
from app.core.db import DATABASE_CACHE, database_cache
from app.xapi import terms
from tests.xapi.conftest import V, new_id, statement


def _runtime(client):
    return client.app.state.runtime


def _cache(rt) -> dict:
    return rt.session_factory.kw["info"][DATABASE_CACHE].setdefault(terms.CACHE, {})


def test_micros_is_exact_both_ways():
    at = dt.datetime(2026, 11, 23, 17, 35, 13, 123456, tzinfo=dt.UTC)
    assert terms.micros(at) == 1795455313123456
    assert terms.from_micros(terms.micros(at)) == at
    assert terms.micros(at.replace(tzinfo=None)) == terms.micros(at)  # naive = UTC
    assert terms.micros(at.astimezone(dt.timezone(dt.timedelta(hours=2)))) == terms.micros(at)
    assert terms.micros(dt.datetime(1, 1, 1, tzinfo=dt.UTC)) < 0 < terms.micros(dt.datetime(9999, 12, 31, tzinfo=dt.UTC))


def test_long_values_keep_distinct_keys_within_2048_bytes():
    base = "https://rmtc.example/activities/" + "ж" * 1100
    a, b = terms.key("activity", base + "a"), terms.key("activity", base + "b")
    assert a != b
    assert len(a[1].encode()) <= terms.MAX_VALUE and len(b[1].encode()) <= terms.MAX_VALUE
    assert terms.key("activity", base + "a") == a  # stable
    assert terms.key("verb", "http://adlnet.gov/expapi/verbs/attempted") == ("verb", "http://adlnet.gov/expapi/verbs/attempted")


def test_terms_of_a_rolled_back_transaction_are_never_cached(client):
    rt = _runtime(client)
    cache = _cache(rt)
    cache.clear()
    with rt.session_factory(bind=rt.write_engine) as session:
        first = terms.ids(session, [("verb", "https://rmtc.example/verbs/lost")], create=True)
        assert set(first) == {("verb", "https://rmtc.example/verbs/lost")}
        # Found again in the same transaction, but not cached: it could still be rolled back.
        assert terms.ids(session, [("verb", "https://rmtc.example/verbs/lost")]) == first
        assert cache == {}
        session.rollback()
    with rt.session_factory(bind=rt.write_engine) as session:
        assert terms.ids(session, [("verb", "https://rmtc.example/verbs/lost")]) == {}
        kept = terms.ids(session, [("verb", "https://rmtc.example/verbs/kept")], create=True)
        session.commit()
    assert cache == {}
    with rt.session_factory() as session:  # a new session reads what is committed, and caches it
        assert terms.ids(session, [("verb", "https://rmtc.example/verbs/kept"), ("verb", "https://rmtc.example/verbs/lost")]) == kept
    assert cache == kept


def test_the_cache_belongs_to_the_database_of_the_session(client):
    rt = _runtime(client)
    with rt.session_factory() as a, rt.session_factory() as b:
        assert database_cache(a, terms.CACHE) is database_cache(b, terms.CACHE)
    with Session(rt.engine) as other:  # not made by the runtime: nothing is cached for it
        mine = database_cache(other, terms.CACHE)
        mine["x"] = 1
        assert database_cache(other, terms.CACHE) == {}


def test_statements_with_long_iris_are_found_by_them(client, lrs):
    long_a = "https://rmtc.example/activities/" + "ж" * 1100 + "/a"
    long_b = "https://rmtc.example/activities/" + "ж" * 1100 + "/b"
    ids = {}
    for iri in (long_a, long_b):
        r = client.post("/xapi/statements", json=statement(object={"id": iri}), headers=lrs)
        assert r.status_code == 200, r.text
        ids[iri] = r.json()[0]
    for iri in (long_a, long_b):
        r = client.get("/xapi/statements", params={"activity": iri}, headers=lrs)
        assert r.status_code == 200, r.text
        assert [s["id"] for s in r.json()["statements"]] == [ids[iri]]


def _index_rows(rt) -> set[tuple]:
    with rt.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.kind, t.value, i.stored, i.statement_id FROM xapi_statement_index i "
            "JOIN xapi_statement_terms t ON t.id = i.term_id")).all()
    return {(kind, value, stored, uuid.UUID(str(sid))) for kind, value, stored, sid in rows}


def test_the_migrations_keep_every_index_row(client, lrs, settings):
    rt = _runtime(client)
    registration = str(uuid.uuid4())
    first = new_id()
    batch = [
        statement(id=first, context={"registration": registration,
                                     "contextActivities": {"parent": [{"id": "https://rmtc.example/courses/asylum"}]}}),
        statement(actor={"mbox": "mailto:marko@mup.gov.me"}, object={"objectType": "Agent", "mbox": "mailto:ana@kirs.gov.rs"}),
        statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}, object={"objectType": "StatementRef", "id": first}),
    ]
    r = client.post("/xapi/statements", json=batch, headers=lrs)
    assert r.status_code == 200, r.text
    voiding = r.json()[2]
    before = _index_rows(rt)
    assert len(before) > 10
    queries = [{"agent": '{"mbox": "mailto:ana@kirs.gov.rs"}', "related_agents": "true"},
               {"activity": "https://rmtc.example/courses/asylum", "related_activities": "true"},
               {"registration": registration}, {"verb": "http://adlnet.gov/expapi/verbs/attempted"},
               {"voidedStatementId": first}]
    answers = [client.get("/xapi/statements", params=q, headers=lrs).json() for q in queries]
    assert answers[0]["statements"]
    # The voided statement is gone; the voiding one is found by the registration it inherits.
    assert [s["id"] for s in answers[2]["statements"]] == [voiding]

    url = settings.resolved_database_url
    dbmigrate.downgrade(url, "e1a5c0de0009")
    with rt.engine.connect() as conn:
        old = conn.execute(text("SELECT kind, value, stored, statement_id FROM xapi_statement_index")).all()
    converted = {(kind, value, terms.micros(stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(stored)),
                  uuid.UUID(str(sid))) for kind, value, stored, sid in old}
    # The old form also had a related row for each direct agent and activity.
    twins = {(kind + "+", value, stored, sid) for kind, value, stored, sid in before if kind in ("agent", "activity")}
    assert twins and not twins & before
    assert converted == before | twins
    dbmigrate.upgrade(url)
    rt.session_factory.kw["info"][DATABASE_CACHE].clear()  # ids were given anew (the service is stopped to migrate)
    assert _index_rows(rt) == before
    assert [client.get("/xapi/statements", params=q, headers=lrs).json() for q in queries] == answers
    r = client.post("/xapi/statements", json=statement(context={"registration": registration}), headers={**lrs, **V})
    assert r.status_code == 200
    r = client.get("/xapi/statements", params={"registration": registration}, headers=lrs)
    assert len(r.json()["statements"]) == 2


def test_stored_text_for_sqlite_is_what_sqlalchemy_writes():
    from sqlalchemy.dialects import sqlite

    from app.xapi.statements import _processors

    bind = _processors(sqlite.dialect())
    start = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    for step in (0, 1, 999_999, 1_000_000, 86_399_999_999, 10**14 + 7):
        at = start + dt.timedelta(microseconds=step)
        text_form = at.isoformat(timespec="microseconds").replace("+00:00", "Z")
        assert bind["stored_text"](text_form) == bind["stored"](at)


def test_related_rows_only_for_values_not_direct_and_related_queries_page_through_both(client, lrs):
    rt = _runtime(client)
    ana = {"objectType": "Agent", "mbox": "mailto:ana@kirs.gov.rs"}
    course = "https://rmtc.example/courses/return"
    batch = []
    for i in range(24):
        if i % 3 == 0:  # Ana is the actor; the course the object
            batch.append(statement(actor=ana, object={"id": course}))
        elif i % 3 == 1:  # Ana instructs; the course is the parent
            batch.append(statement(actor={"mbox": f"mailto:l{i}@mup.gov.me"},
                                   context={"instructor": ana, "contextActivities": {"parent": [{"id": course}]}}))
        else:  # Ana is both actor and instructor; the course both object and grouping
            batch.append(statement(actor=ana, object={"id": course},
                                   context={"instructor": ana, "contextActivities": {"grouping": [{"id": course}]}}))
    r = client.post("/xapi/statements", json=batch, headers=lrs)
    assert r.status_code == 200, r.text
    ids = r.json()
    rows = _index_rows(rt)
    by_statement: dict = {}
    for kind, value, _, sid in rows:
        by_statement.setdefault(str(sid), set()).add((kind, value))
    for i, sid in enumerate(ids):
        mine = by_statement[sid]
        assert ("agent+", "mbox:mailto:ana@kirs.gov.rs") in mine if i % 3 == 1 else ("agent", "mbox:mailto:ana@kirs.gov.rs") in mine
        assert not {(k[:-1], v) for k, v in mine if k.endswith("+")} & mine  # never direct and related
    for params, expected in (
        ({"agent": '{"mbox": "mailto:ana@kirs.gov.rs"}'}, [sid for i, sid in enumerate(ids) if i % 3 != 1]),
        ({"agent": '{"mbox": "mailto:ana@kirs.gov.rs"}', "related_agents": "true"}, ids),
        ({"activity": course}, [sid for i, sid in enumerate(ids) if i % 3 != 1]),
        ({"activity": course, "related_activities": "true"}, ids),
        ({"activity": course, "related_activities": "true", "agent": '{"mbox": "mailto:ana@kirs.gov.rs"}',
          "related_agents": "true"}, ids),
    ):
        for ascending in ("false", "true"):
            got, url = [], "/xapi/statements"
            query = {**params, "limit": "5", "ascending": ascending}
            while url:
                r = client.get(url, params=query, headers=lrs)
                assert r.status_code == 200, r.text
                got += [s["id"] for s in r.json()["statements"]]
                url, query = r.json()["more"], None
            assert got == (expected if ascending == "true" else expected[::-1]), (params, ascending)
