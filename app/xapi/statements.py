"""Storing and querying statements.

Writes validate every statement, refuse a whole batch for any invalid statement or repeated id,
keep stored statements immutable (same id + equivalent content is accepted once; different
content is 409), set id/stored/authority/version, apply voiding, and index the filter values of
each statement (inherited by statements that target it with a StatementRef). Reads are keyset
queries on (stored, id) over indexed columns; no query scans the table.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import orjson
from sqlalchemy import (
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from app.core.db import FastSelect, database_cache, execute_many, json_loads, utcnow
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.core.i18n import pick
from app.users.models import User
from app.xapi import hooks, terms, validation
from app.xapi.auth import LrsAuth
from app.xapi.models import Activity, Statement, StatementIndex
from app.xapi.validation import StatementInvalid, ifi_of

VOIDED = validation.VOIDED
# Properties the LRS sets; two statements are "the same" when everything else matches.
SERVER_SET = ("stored", "authority", "version")


class StatementConflict(Conflict):
    code = "statement-conflict"
    title = "A different statement with this id exists"


class BadStatement(BadRequest):
    code = "invalid-statement"
    title = "Invalid statement"


@dataclass
class QueryParams:
    statement_id: str | None = None
    voided_statement_id: str | None = None
    agent: str | None = None  # IFI key
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 0
    ascending: bool = False
    format: str = "exact"
    attachments: bool = False


# Writing ----------------------------------------------------------------------------------


def _canonical(statement: dict[str, Any], *, ignore_timestamp: bool = False) -> bytes:
    skip = (*SERVER_SET, "timestamp") if ignore_timestamp else SERVER_SET
    body = {k: v for k, v in validation.comparable(statement).items() if k not in skip}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (orjson round trip: far cheaper than copy.deepcopy), falling back
    to copy.deepcopy for what orjson cannot write (e.g. integers beyond 64 bits from Python callers)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONDecodeError):
        return copy.deepcopy(value)


def _agent_ifis(actor: dict[str, Any]) -> list[str]:
    """The IFI of an Agent or identified Group, plus those of a Group's members."""
    values = []
    own = ifi_of(actor)
    if own:
        values.append(own)
    for member in actor.get("member", []) or []:
        m = ifi_of(member)
        if m:
            values.append(m)
    return values


def _activities_in(ctx: dict[str, Any] | None) -> list[dict[str, Any]]:
    result = []
    for items in ((ctx or {}).get("contextActivities") or {}).values():
        result.extend(items if isinstance(items, list) else [items])
    return result


def _index_rows(s: dict[str, Any]) -> set[tuple[str, str]]:
    """The filter values of a statement, as (kind, value): `agent` the actor and an Agent/Group
    object (and their members), `activity` an Activity object, `agent+` / `activity+` the other
    agents (authority, instructor, team, those of a SubStatement) and activities (context
    activities, a SubStatement's) when not already direct; `verb`, `registration`. A query with
    `related_agents` / `related_activities` reads both kinds."""
    obj = s["object"]
    object_type = obj.get("objectType", "Activity")
    rows = {("verb", s["verb"]["id"])}
    for value in _agent_ifis(s["actor"]):
        rows.add(("agent", value))
    activity = None
    if object_type == "Activity":
        activity = obj["id"]
        rows.add(("activity", activity))
    elif object_type == "Agent" or object_type == "Group":
        for value in _agent_ifis(obj):
            rows.add(("agent", value))
    ctx = s.get("context") or {}
    related_agents = _agent_ifis(s["authority"]) if "authority" in s else []
    for key in ("instructor", "team"):
        if key in ctx:
            related_agents += _agent_ifis(ctx[key])
    related_activities = _activities_in(ctx)
    if object_type == "SubStatement":
        related_agents += _agent_ifis(obj["actor"])
        sub_obj = obj["object"]
        sub_type = sub_obj.get("objectType", "Activity")
        if sub_type == "Agent" or sub_type == "Group":
            related_agents += _agent_ifis(sub_obj)
        elif sub_type == "Activity":
            related_activities.append(sub_obj)
        sub_ctx = obj.get("context") or {}
        for key in ("instructor", "team"):
            if key in sub_ctx:
                related_agents += _agent_ifis(sub_ctx[key])
        related_activities += _activities_in(sub_ctx)
    for value in related_agents:
        if ("agent", value) not in rows:
            rows.add(("agent+", value))
    for item in related_activities:
        if item["id"] != activity:
            rows.add(("activity+", item["id"]))
    registration = ctx.get("registration")
    if registration:
        rows.add(("registration", registration.lower()))
    longest = terms.MAX_VALUE // 4
    for _, value in rows:
        if len(value) > longest:
            return {terms.key(kind, value) for kind, value in rows}
    return rows


def _union_rows(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The rows of a statement and those it inherits: a value direct in either is not also
    related (see `_index_rows`)."""
    rows = a | b
    return {(kind, value) for kind, value in rows if kind[-1] != "+" or (kind[:-1], value) not in rows}


def _user_ids_for(conn: Any, base_url: str, statements: list[dict[str, Any]]) -> dict[str, uuid.UUID]:
    """Map actor IFIs to platform users: an account on this platform (name = user id), or the
    mbox of a user's email."""
    ifis = {ifi_of(s["actor"]) for s in statements} - {None}
    mapping: dict[str, uuid.UUID] = {}
    claimed: dict[str, uuid.UUID] = {}  # account names that may be user ids
    emails = {}
    for value in ifis:
        if value.startswith(f"account:{base_url}|"):
            try:
                claimed[value] = uuid.UUID(value.split("|", 1)[1])
            except ValueError:
                pass
        elif value.startswith("mbox:mailto:"):
            emails[value[len("mbox:mailto:"):]] = value
    if emails:
        for user_id, email in _USERS_BY_EMAIL.rows(conn, emails=list(emails)):
            mapping[emails[email]] = user_id
    if claimed:
        known = set(_USERS_BY_ID.scalars(conn, ids=list(set(claimed.values()))))
        mapping.update({k: v for k, v in claimed.items() if v in known})
    return mapping


# Encodings of the agents, verbs and activities found valid (see validation.validate_statement),
# shared by the requests of the process; forgotten all at once when there are more than the
# maximum (a few MiB).
_VALID: set[bytes] = set()
_VALID_MAX = 10_000


def prepare(statements: list[Any], auth: LrsAuth, *, version: str, parsed: bool = False) -> list[dict[str, Any]]:
    """Validate and complete a batch (no database access); raises BadStatement or Forbidden.
    `store` gives the statements their stored times. `parsed`: the statements were just parsed
    from JSON (a request body), so they are completed in place instead of copied, and the
    agents, verbs and activities that recur (in the batch, or in earlier requests) are validated
    once."""
    auth.require("statements/write")
    prepared = []
    seen: set[str] = set()
    valid = _VALID if parsed else None
    if parsed and len(_VALID) > _VALID_MAX:
        _VALID.clear()
    for index, raw in enumerate(statements):
        where = f"statement {index}: " if len(statements) > 1 else ""
        try:
            s = validation.validate_statement(raw, version=version, seen=valid)
        except StatementInvalid as exc:
            raise BadStatement(f"{where}{exc}") from None
        if not parsed:
            s = _copy(s)
        statement_id = (s.get("id") or str(uuid.uuid4())).lower()
        if statement_id in seen:
            raise BadStatement(f"{where}the id {statement_id} appears twice in the batch")
        seen.add(statement_id)
        if auth.own_ifis and ifi_of(s["actor"]) not in auth.own_ifis:
            raise Forbidden(f"{where}this credential writes statements about its own learner only")
        if auth.registration and ((s.get("context") or {}).get("registration") or "").lower() != auth.registration:
            raise Forbidden(f"{where}this credential writes statements of registration {auth.registration} only")
        s["id"] = statement_id
        _arrays_for_context_activities(s)
        s["authority"] = auth.authority
        s.setdefault("version", "2.0.0" if version.startswith("2.") else "1.0.0")
        prepared.append(s)
    return prepared


def _arrays_for_context_activities(s: dict[str, Any]) -> None:
    """A single context activity is stored (and returned) as a one-element array."""
    for holder in (s, s["object"] if s["object"].get("objectType") == "SubStatement" else None):
        ctx = (holder or {}).get("context") or {}
        activities = ctx.get("contextActivities")
        if isinstance(activities, dict):
            for key, value in list(activities.items()):
                if isinstance(value, dict):
                    activities[key] = [value]


_STATEMENT_COLUMNS = ("id", "stored", "data", "verb_id", "actor_ifi", "object_ref", "registration", "voided", "user_id",
                      "credential", "has_attachments")


@functools.lru_cache(maxsize=32)
def _processors(dialect: Any) -> dict[str, Any]:
    """The dialect's bind processors of the statement columns' types (identity where a type has
    none), so that a batch is bound once per value instead of once per row and column."""
    columns = Statement.__table__.c

    def processor(column: Any) -> Any:
        return column.type._cached_bind_processor(dialect) or (lambda value: value)

    return {"id": processor(columns.id), "stored": processor(columns.stored), "data": processor(columns.data),
            "bool": processor(columns.voided),
            # SQLite keeps a datetime as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): cut from the statement's
            # `stored` text ('YYYY-MM-DDTHH:MM:SS.ffffffZ') instead of formatted anew.
            "stored_text": _sqlite_stored if dialect.name == "sqlite" else None}


def _sqlite_stored(text: str) -> str:
    return f"{text[:10]} {text[11:26]}"


@functools.lru_cache(maxsize=64)
def _insert_sql(dialect: Any, table: Any, columns: tuple[str, ...]) -> tuple[str, tuple[int, ...] | None]:
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    order = tuple(columns.index(name) for name in compiled.positiontup) if compiled.positional else None
    return compiled.string, order


def _insert_many(conn: Any, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """INSERT ... executemany of rows whose values are already bound for the dialect (see
    `_processors`): for thousands of rows a batch, SQLAlchemy's per-row parameter processing
    costs more than the database's insert itself."""
    if not rows:
        return
    sql, order = _insert_sql(conn.dialect, table, columns)
    if order is None:
        params: list[Any] = [dict(zip(columns, row)) for row in rows]
    elif order == tuple(range(len(columns))):
        params = rows
    else:
        params = [tuple(row[i] for i in order) for row in rows]
    execute_many(conn, sql, params)


LAST_STORED = "xapi_last_stored"  # session.info: the latest `stored` written in this transaction


# The write path's queries, built once: building a SELECT and running it through the ORM
# session costs several times what the database needs for it (~0.4 ms against ~0.14 ms for a
# prebuilt Core statement on the session's connection), and a statement write runs several.
_S = Statement.__table__
_USERS = User.__table__
_EXISTING = FastSelect(select(_S.c.id, _S.c.data).where(_S.c.id.in_(bindparam("ids", expanding=True))))
_TARGETS = FastSelect(select(_S.c.id, _S.c.verb_id, _S.c.data).where(_S.c.id.in_(bindparam("ids", expanding=True))))
_VOIDED_BY = FastSelect(select(_S.c.object_ref).where(_S.c.object_ref.in_(bindparam("ids", expanding=True)),
                                                      _S.c.verb_id == VOIDED))
_VOID = update(_S).where(_S.c.id.in_(bindparam("ids", expanding=True)), _S.c.verb_id != VOIDED).values(voided=True)
_USERS_BY_EMAIL = FastSelect(select(_USERS.c.id, _USERS.c.email).where(_USERS.c.email.in_(bindparam("emails", expanding=True))))
_USERS_BY_ID = FastSelect(select(_USERS.c.id).where(_USERS.c.id.in_(bindparam("ids", expanding=True))))


class StoredClock:
    """Stored times for batches written one after another: never earlier than the end of the
    previous batch, so that statements are stored in the order they were written even when the
    system clock steps back or two writes fall into the same microsecond."""

    def __init__(self) -> None:
        self._next = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._lock = threading.Lock()

    def next(self, count: int, *, after: dt.datetime | None = None) -> dt.datetime:
        """The first of `count` stored times, later than `after` too (the latest one stored)."""
        with self._lock:
            now = max(utcnow(), self._next)
            if after is not None and after >= now:
                now = after + dt.timedelta(microseconds=1)
            self._next = now + dt.timedelta(microseconds=count)
            return now


STORED_CLOCK = StoredClock()
_LATEST_STORED = FastSelect(select(func.max(_S.c.stored)))


def next_stored(session: Session, count: int) -> dt.datetime:
    """Stored times for a write under the database's write lock (SQLite): after every statement
    stored so far, also by the other worker processes, so that `stored` order is commit order."""
    return STORED_CLOCK.next(count, after=_LATEST_STORED.scalar(session.connection()))


def stored_times(now: dt.datetime, count: int) -> list[dt.datetime]:
    """Distinct, increasing stored times from `now`: a batch keeps its order in `stored` order."""
    return [now + dt.timedelta(microseconds=i) for i in range(count)]


def store(session: Session, auth: LrsAuth, prepared: list[dict[str, Any]], *, base_url: str, now: dt.datetime,
          ready: Ready | None = None) -> list[str]:
    """Insert a prepared batch, stored at `now` (the statements 1 µs apart, in order); returns
    the ids in order. Existing equivalent statements are accepted without a second copy; a
    different statement under an existing id is 409."""
    return store_batches(session, [(auth, prepared)], base_url=base_url, now=now, ready=[ready] if ready else None)[0]


def independent(batches: list[list[dict[str, Any]]]) -> bool:
    """Whether no statement of these batches has the id of, or refers by StatementRef to, a
    statement of another one: then storing them together (`store_batches`) has the effect of
    storing them one after the other."""
    owner: dict[str, int] = {}
    for number, prepared in enumerate(batches):
        for s in prepared:
            if owner.setdefault(s["id"], number) != number:
                return False
    for number, prepared in enumerate(batches):
        for s in prepared:
            if s["object"].get("objectType") == "StatementRef" and owner.get(s["object"]["id"].lower(), number) != number:
                return False
    return True


@dataclass(slots=True)
class _Row:
    """A statement's column values and index rows (bound for the dialect), as far as they do not
    depend on what is stored: everything but `stored`, `voided` and inherited index rows."""

    sid: uuid.UUID
    sid_value: Any
    index: set[tuple[str, str]]
    actor_ifi: str | None
    user_id: Any
    object_ref: Any
    registration: Any
    has_attachments: Any
    json_head: str | None  # SQLite: the statement's JSON text without `stored` and its closing brace
    add_timestamp: bool
    term_ids: list[int] | None = None  # of `index`, when all its terms existed beforehand


@dataclass
class Ready:
    """The part of a batch's write that no other write changes, computed before the write (on
    SQLite: outside the write lock, so that worker processes do it side by side): column values,
    index rows, JSON text, the users the actors map to, the batch's merged activity definitions."""

    rows: list[_Row]
    definitions: dict[str, dict[str, Any]]
    terms: dict[terms.Key, int]  # the ids of the rows' terms, as far as they exist


def ready_to_store(session: Session, prepared: list[dict[str, Any]], *, base_url: str) -> Ready:
    conn = session.connection()
    bind = _processors(conn.dialect)
    users = _user_ids_for(conn, base_url, prepared)
    rows = []
    for s in prepared:
        ctx = s.get("context") or {}
        obj = s["object"]
        sid = uuid.UUID(s["id"])
        actor_ifi = ifi_of(s["actor"])
        user_id = users.get(actor_ifi or "")
        head = bind["data"]({k: v for k, v in s.items() if k != "stored"})
        rows.append(_Row(
            sid=sid,
            sid_value=bind["id"](sid),
            index=_index_rows(s),
            actor_ifi=actor_ifi,
            user_id=bind["id"](user_id) if user_id else None,
            object_ref=bind["id"](uuid.UUID(obj["id"])) if obj.get("objectType") == "StatementRef" else None,
            registration=bind["id"](uuid.UUID(ctx["registration"])) if ctx.get("registration") else None,
            has_attachments=bind["bool"](bool(s.get("attachments"))),
            # The JSON text is completed at the write (stored; a timestamp the LRS fills in).
            json_head=head[:-1] if isinstance(head, str) and head.endswith("}") and head != "{}" else None,
            add_timestamp="timestamp" not in s,
        ))
    known = terms.ids(session, {k for row in rows for k in row.index})
    for row in rows:
        try:
            row.term_ids = [known[k] for k in row.index]
        except KeyError:  # created with the write
            pass
    return Ready(rows, _batch_definitions(prepared), known)


def store_batches(session: Session, batches: list[tuple[LrsAuth, list[dict[str, Any]]]], *, base_url: str,
                  now: dt.datetime, ready: list[Ready] | None = None) -> list[list[str]]:
    """`store` of several batches (of `independent` requests, each with its credential) in one go:
    one set of queries and inserts for all of them, in order. `ready`: each batch's
    `ready_to_store`, if computed beforehand."""
    conn = session.connection()
    if ready is None:
        ready = [ready_to_store(session, prepared, base_url=base_url) for _, prepared in batches]
    # Shallow copies: what is set here (stored, a default timestamp) stays out of the prepared
    # statements, which may be stored again if this fails.
    statements = [({**s}, auth.credential, row)
                  for (auth, prepared), r in zip(batches, ready) for s, row in zip(prepared, r.rows)]
    stored_at = stored_times(now, len(statements))
    for (s, _, _), stored in zip(statements, stored_at):
        s["stored"] = stored.isoformat(timespec="microseconds").replace("+00:00", "Z")
    existing = dict(_EXISTING.rows(conn, ids=[row.sid for _, _, row in statements]))
    new = []
    for (s, credential, row), stored in zip(statements, stored_at):
        if row.sid in existing:
            # A timestamp the LRS filled in is not part of what the client sent.
            no_ts = "timestamp" not in s
            if _canonical(existing[row.sid], ignore_timestamp=no_ts) != _canonical(s, ignore_timestamp=no_ts):
                raise StatementConflict(f"A different statement with id {row.sid} is already stored.")
            continue
        new.append((s, row, stored, credential))
    results = [[s["id"] for s in prepared] for _, prepared in batches]
    if not new:
        return results
    # Profile rules (cmi5) on each credential's new statements, before anything is written.
    statement_hooks = hooks.of(session)
    per_credential = _new_by_batch(batches, new) if statement_hooks else []
    for hook in statement_hooks:
        for auth, mine in per_credential:
            hook.check(session, auth, mine, now)
    for s, _, _, _ in new:
        s.setdefault("timestamp", s["stored"])
    batch_ids = {row.sid for _, row, _, _ in new}
    # Voiding: the target must not itself be a voiding statement.
    targets = {uuid.UUID(s["object"]["id"]) for s, _, _, _ in new if s["object"].get("objectType") == "StatementRef"}
    target_rows = {}
    target_data = {}
    if targets:
        for target in _TARGETS.rows(conn, ids=list(targets)):
            target_rows[target.id] = target.verb_id
            target_data[target.id] = target.data
    in_batch_verbs = {row.sid: s["verb"]["id"] for s, row, _, _ in new}
    for s, _, _, _ in new:
        if s["verb"]["id"] == VOIDED:
            target = uuid.UUID(s["object"]["id"])
            if target_rows.get(target) == VOIDED or in_batch_verbs.get(target) == VOIDED:
                raise BadStatement(f"Statement {s['id']} voids a voiding statement, which is not allowed.")
    # Index rows, with the rows of the statements targeted by StatementRef (stored before, or
    # earlier in the batch).
    index: dict[uuid.UUID, set[tuple[str, str]]] = {row.sid: row.index for _, row, _, _ in new}
    inherited = _rows_with_targets(conn, {t: d for t, d in target_data.items() if t not in batch_ids})
    for s, row, _, _ in new:
        if s["object"].get("objectType") == "StatementRef":
            target = uuid.UUID(s["object"]["id"])
            if target in index and target != row.sid:
                index[row.sid] = _union_rows(index[row.sid], index[target])
            elif target in inherited:
                index[row.sid] = _union_rows(index[row.sid], inherited[target])
    voided_ids = [uuid.UUID(s["object"]["id"]) for s, _, _, _ in new if s["verb"]["id"] == VOIDED]
    # Statements arriving after a voiding statement that targets them are voided at once.
    already_voided = set(_VOIDED_BY.scalars(conn, ids=list(batch_ids)))
    bind = _processors(conn.dialect)
    voided_now = already_voided.union(voided_ids)
    # The rows' term ids: found before the write (see `ready_to_store`), else created now.
    term_ids: dict[terms.Key, int] = {}
    for r in ready:
        term_ids.update(r.terms)

    def listed(row: _Row) -> list[int] | None:  # the row's term ids from before, if they still apply
        return row.term_ids if index[row.sid] is row.index else None

    missing = {k for _, row, _, _ in new if listed(row) is None for k in index[row.sid] if k not in term_ids}
    if missing:
        term_ids.update(terms.ids(session, missing, create=True))
    statement_rows = []
    index_rows = []
    stored_text = bind["stored_text"]
    for s, row, stored_value, credential in new:
        stored = stored_text(s["stored"]) if stored_text else bind["stored"](stored_value)
        if row.json_head is not None:
            data = (f'{row.json_head},"stored":"{s["stored"]}"'
                    + (f',"timestamp":"{s["stored"]}"}}' if row.add_timestamp else "}"))
        else:
            data = bind["data"](s)
        statement_rows.append((
            row.sid_value, stored, data, s["verb"]["id"], row.actor_ifi, row.object_ref, row.registration,
            bind["bool"](row.sid in voided_now), row.user_id, credential, row.has_attachments,
        ))
        own = listed(row) or [term_ids[k] for k in index[row.sid]]
        count = len(own)
        index_rows.extend(zip(own, repeat(terms.micros(stored_value), count), repeat(row.sid_value, count)))
    _insert_many(conn, Statement.__table__, _STATEMENT_COLUMNS, statement_rows)
    _insert_many(conn, StatementIndex.__table__, ("term_id", "stored", "statement_id"), index_rows)
    if voided_ids:
        conn.execute(_VOID, {"ids": voided_ids})
    if len(new) == len(statements) and len(ready) == 1:
        definitions = ready[0].definitions
    elif len(new) == len(statements):
        definitions = {}
        for r in ready:
            for activity_id, definition in r.definitions.items():
                _merge_definition(definitions.setdefault(activity_id, {}), definition)
    else:  # statements stored before change nothing
        definitions = _batch_definitions([s for s, _, _, _ in new])
    _merge_activities(session, definitions, now)
    # What the platform records next in this transaction (hooks, progress) is stored after this.
    last = max(stored for _, _, stored, _ in new)
    if session.info.get(LAST_STORED) is None or session.info[LAST_STORED] < last:
        session.info[LAST_STORED] = last
    for hook in statement_hooks:
        for auth, mine in per_credential:
            hook.after(session, auth, mine, now)
    return results


def _rows_with_targets(conn: Any, found: dict[uuid.UUID, dict[str, Any]]) -> dict[uuid.UUID, set[tuple[str, str]]]:
    """The index rows of stored statements (by id, with their data): their own, and those of the
    statements they target by StatementRef, in turn (what was indexed for them when stored)."""
    data = dict(found)
    frontier = list(found.values())
    while frontier:
        wanted = {uuid.UUID(d["object"]["id"]) for d in frontier if d["object"].get("objectType") == "StatementRef"} - set(data)
        fetched = dict(_EXISTING.rows(conn, ids=list(wanted))) if wanted else {}
        data.update(fetched)
        frontier = list(fetched.values())

    def rows(sid: uuid.UUID, seen: frozenset) -> set[tuple[str, str]]:
        d = data[sid]
        result = _index_rows(d)
        if d["object"].get("objectType") == "StatementRef":
            target = uuid.UUID(d["object"]["id"])
            if target in data and target not in seen:
                result = _union_rows(result, rows(target, seen | {target}))
        return result

    return {sid: rows(sid, frozenset({sid})) for sid in found}


def _new_by_batch(batches: list[tuple[LrsAuth, list[dict[str, Any]]]], new: list[tuple]) -> list[tuple[LrsAuth, list[dict[str, Any]]]]:
    """The new statements of each batch (as stored), with the batch's credential."""
    new_ids = {s["id"]: s for s, _, _, _ in new}
    out = []
    for auth, prepared in batches:
        mine = [new_ids[s["id"]] for s in prepared if s["id"] in new_ids]
        if mine:
            out.append((auth, mine))
    return out


_A = Activity.__table__
_DEFINITION_TEXTS = FastSelect(select(_A.c.id, cast(_A.c.definition, Text)).where(_A.c.id.in_(bindparam("ids", expanding=True))))
_PARSED_DEFINITIONS = "xapi_definitions"  # database_cache: definition JSON text -> parsed
_PARSED_MAX = 5_000
_INSERT_ACTIVITY = insert(_A)
_UPDATE_ACTIVITY = (update(_A).where(_A.c.id == bindparam("activity_id"))
                    .values(definition=bindparam("definition"), updated_at=bindparam("updated_at")))


def _batch_definitions(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The activity definitions of a batch, merged in order (see `_merge_definition`)."""
    definitions: dict[str, dict[str, Any]] = {}
    merged_from: dict[str, list[dict[str, Any]]] = {}
    for s in statements:
        objs = [s["object"]] if s["object"].get("objectType", "Activity") == "Activity" else []
        objs += _activities_in(s.get("context"))
        for obj in objs:
            definition = obj.get("definition")
            if definition:
                # Statements of a batch mostly repeat the same definitions: merge each one once
                # in a row (merging an equal definition again changes nothing).
                done = merged_from.setdefault(obj["id"], [])
                if done and done[-1] == definition:
                    continue
                done.append(definition)
                _merge_definition(definitions.setdefault(obj["id"], {}), definition)
    return definitions


def _current_definitions(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored definitions of these activities. Their JSON is read as text and parsed once
    per process for each distinct text (a batch's activities are mostly stored unchanged): the
    parsed values are shared, and never changed in place (see `_merge_definition`)."""
    parsed = database_cache(session, _PARSED_DEFINITIONS)
    if len(parsed) > _PARSED_MAX:
        parsed.clear()
    current = {}
    for activity_id, text in _DEFINITION_TEXTS.rows(session.connection(), ids=ids):
        value = parsed.get(text)
        if value is None:
            value = parsed[text] = json_loads(text)
        current[activity_id] = value
    return current


def _merge_activities(session: Session, definitions: dict[str, dict[str, Any]], now: dt.datetime) -> None:
    """Keep a canonical definition per activity: language maps are merged, other fields take
    the latest value."""
    if not definitions:
        return
    conn = session.connection()
    current = _current_definitions(session, list(definitions))
    new_rows, changed = [], []
    for activity_id, definition in definitions.items():
        if activity_id not in current:
            new_rows.append({"id": activity_id, "definition": definition, "updated_at": now})
            continue
        merged = dict(current[activity_id])
        _merge_definition(merged, definition)
        if merged != current[activity_id]:
            changed.append({"activity_id": activity_id, "definition": merged, "updated_at": now})
    # Rows are written in id order, so that concurrent transactions lock them in one order
    # (no deadlock between two batches sharing activities).
    new_rows.sort(key=lambda row: row["id"])
    if new_rows and conn.dialect.name == "postgresql":
        # Concurrent transactions may both find an activity new (on SQLite writers are
        # serialised): the second insert must not fail the whole batch (it was a 409), its
        # definition is merged into the row the first one committed.
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(_A).on_conflict_do_nothing(index_elements=[_A.c.id]), new_rows)
        for activity_id, stored in _current_definitions(session, [row["id"] for row in new_rows]).items():
            merged = dict(stored)
            _merge_definition(merged, definitions[activity_id])
            if merged != stored:
                changed.append({"activity_id": activity_id, "definition": merged, "updated_at": now})
    elif new_rows:
        conn.execute(_INSERT_ACTIVITY, new_rows)
    if changed:
        changed.sort(key=lambda row: row["activity_id"])
        conn.execute(_UPDATE_ACTIVITY, changed)


def _merge_definition(target: dict[str, Any], new: dict[str, Any]) -> None:
    """Merge `new` into `target`; nested values of either are never changed in place (new dicts
    replace them), so they may be shared with the statements they came from."""
    for key, value in new.items():
        if key in ("name", "description") and isinstance(target.get(key), dict):
            target[key] = {**target[key], **value}
        else:
            target[key] = value


# Reading ----------------------------------------------------------------------------------


def _scope_filter(auth: LrsAuth):
    if auth.own_ifis:
        if auth.can("statements/read") and not auth.principal:
            clause = Statement.actor_ifi.in_(list(auth.own_ifis))
        else:
            clause = or_(Statement.actor_ifi.in_(list(auth.own_ifis)), Statement.credential == auth.credential)
        if auth.registration:
            clause = and_(clause, Statement.registration == uuid.UUID(auth.registration))
        return clause
    if auth.country_code:
        return Statement.user_id.in_(select(User.id).where(User.country_code == auth.country_code))
    if auth.can("statements/read"):
        return None
    if auth.can("statements/read/mine"):
        return Statement.credential == auth.credential
    raise Forbidden("This credential cannot read statements.")


def get_one(session: Session, auth: LrsAuth, statement_id: str, *, voided: bool) -> Statement:
    if not validation.is_uuid(statement_id):
        raise BadRequest(f"{statement_id!r} is not a UUID.")
    stmt = select(Statement).where(Statement.id == uuid.UUID(statement_id), Statement.voided.is_(voided))
    scope = _scope_filter(auth)
    if scope is not None:
        stmt = stmt.where(scope)
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"No {'voided ' if voided else ''}statement {statement_id}.")
    return row


# Filters from the most to the least selective: the first one present drives the query.
_DRIVING_ORDER = ("registration", "agent", "activity", "agent+", "activity+", "verb")


def _filters(params: QueryParams) -> list[list[tuple[str, str]]]:
    """The query's filters, the most selective first, each as the keys a statement may match it
    with: a related agent or activity is direct in some statements and related in others."""
    found = {}
    if params.agent:
        if params.related_agents:
            found["agent+"] = [("agent", params.agent), ("agent+", params.agent)]
        else:
            found["agent"] = [("agent", params.agent)]
    if params.verb:
        found["verb"] = [("verb", params.verb)]
    if params.activity:
        if params.related_activities:
            found["activity+"] = [("activity", params.activity), ("activity+", params.activity)]
        else:
            found["activity"] = [("activity", params.activity)]
    if params.registration:
        found["registration"] = [("registration", params.registration.lower())]
    return [found[kind] for kind in _DRIVING_ORDER if kind in found]


def query(session: Session, auth: LrsAuth, params: QueryParams, *, after: tuple[dt.datetime, uuid.UUID] | None, limit: int,
          raw: bool = False) -> list[Any]:
    """A page of statements in (stored, id) order, newest first unless ascending: rows with
    `id`, `stored` and `data` (the statement; with `raw`, its JSON text as stored, which the
    `exact` format returns without parsing and re-encoding it).

    With filters, the most selective one drives the query: the index rows of its term are read
    in (stored, statement_id) order from the keyset position on, the other filters are point
    lookups in the same index, and only the statements of the page are read. A related agent or
    activity has two terms (direct and related-only rows): each drives a page of its own and the
    two pages are merged. A filter value without a term matches no statement.
    Without filters, the (stored, id) index of the statements drives it. Either way a page costs
    about `limit` index entries (twice that for a related filter), whatever the size of the store."""
    data = cast(Statement.data, Text).label("data") if raw else Statement.data
    columns = (Statement.id, Statement.stored, data)
    filters = [[terms.key(kind, value) for kind, value in keys] for keys in _filters(params)]
    if not filters:
        stmt = _page(select(*columns), Statement.stored, Statement.id, lambda value: value, auth, params, after)
        return list(session.execute(stmt.limit(limit)))
    found = terms.ids(session, {k for keys in filters for k in keys})
    term_sets = [[found[k] for k in keys if k in found] for keys in filters]
    if not all(term_sets):
        return []
    pages = []
    for term_id in term_sets[0]:
        drive = StatementIndex.__table__.alias("drive")
        stmt = (
            select(*(columns if len(term_sets[0]) == 1 else (Statement.id, Statement.stored)))
            .select_from(drive)
            .join(Statement, Statement.id == drive.c.statement_id)
            .where(drive.c.term_id == term_id)
        )
        for others in term_sets[1:]:
            probe = StatementIndex.__table__.alias()
            stmt = stmt.where(
                exists().where(probe.c.term_id.in_(others) if len(others) > 1 else probe.c.term_id == others[0],
                               probe.c.stored == drive.c.stored, probe.c.statement_id == drive.c.statement_id)
            )
        pages.append(_page(stmt, drive.c.stored, drive.c.statement_id, terms.micros, auth, params, after).limit(limit))
    if len(pages) == 1:
        return list(session.execute(pages[0]))
    # The pages carry ids only: the statements of the merged page are read once, at the end.
    merged = union_all(*[select(page.subquery()) for page in pages]).subquery()
    chosen = (select(merged.c.id, merged.c.stored).order_by(*_keyset_order(merged.c.stored, merged.c.id, params))
              .limit(limit).subquery())
    return list(session.execute(select(Statement.id, Statement.stored, data)
                                .join_from(chosen, Statement, Statement.id == chosen.c.id)
                                .order_by(*_keyset_order(chosen.c.stored, chosen.c.id, params))))


def _page(stmt: Any, stored_col: Any, id_col: Any, at: Callable[[dt.datetime], Any], auth: LrsAuth, params: QueryParams,
          after: tuple[dt.datetime, uuid.UUID] | None) -> Any:
    """`stmt` limited to what the caller may read, not voided, within since/until and after the
    keyset position, in (stored, id) order; `at` gives a stored time as `stored_col` keeps it."""
    stmt = stmt.where(Statement.voided.is_(False))
    scope = _scope_filter(auth)
    if scope is not None:
        stmt = stmt.where(scope)
    if params.since:
        stmt = stmt.where(stored_col > at(params.since))
    if params.until:
        stmt = stmt.where(stored_col <= at(params.until))
    if after is not None:
        stored, sid = at(after[0]), after[1]
        # The row-value comparison is the keyset condition; the plain bound on `stored` lets
        # every database start the index range scan there.
        if params.ascending:
            stmt = stmt.where(stored_col >= stored, tuple_(stored_col, id_col) > (stored, sid))
        else:
            stmt = stmt.where(stored_col <= stored, tuple_(stored_col, id_col) < (stored, sid))
    return stmt.order_by(*_keyset_order(stored_col, id_col, params))


def _keyset_order(stored_col: Any, id_col: Any, params: QueryParams) -> tuple[Any, Any]:
    """(stored, id) in the query's direction: the order of pages and of the keyset."""
    if params.ascending:
        return stored_col.asc(), id_col.asc()
    return stored_col.desc(), id_col.desc()


# Formats ----------------------------------------------------------------------------------


def _ids_agent(actor: dict[str, Any]) -> dict[str, Any]:
    out = {k: actor[k] for k in ("objectType", *validation.IFI_KEYS) if k in actor}
    if actor.get("objectType") == "Group" and "member" in actor and not any(k in actor for k in validation.IFI_KEYS):
        out["member"] = [_ids_agent(m) for m in actor["member"]]
    return out


def _ids_object(obj: dict[str, Any]) -> dict[str, Any]:
    object_type = obj.get("objectType", "Activity")
    if object_type in ("Agent", "Group"):
        return _ids_agent(obj)
    if object_type == "SubStatement":
        return _ids_statement(obj, sub=True)
    if object_type == "StatementRef":
        return {"objectType": "StatementRef", "id": obj["id"]}
    return {"id": obj["id"]}


def _ids_statement(s: dict[str, Any], sub: bool = False) -> dict[str, Any]:
    out = dict(s)
    out["actor"] = _ids_agent(s["actor"])
    out["verb"] = {"id": s["verb"]["id"]}
    out["object"] = _ids_object(s["object"])
    if "authority" in s and not sub:
        out["authority"] = _ids_agent(s["authority"])
    ctx = s.get("context")
    if ctx:
        ctx = dict(ctx)
        for key in ("instructor", "team"):
            if key in ctx:
                ctx[key] = _ids_agent(ctx[key])
        if "contextActivities" in ctx:
            ctx["contextActivities"] = {
                k: ([{"id": a["id"]} for a in v] if isinstance(v, list) else [{"id": v["id"]}])
                for k, v in ctx["contextActivities"].items()
            }
        out["context"] = ctx
    return out


def _filter_maps(value: Any, languages: list[str]) -> Any:
    """Canonical format: each language map reduced to the best language for the caller."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key in ("name", "description", "display") and isinstance(item, dict) and all(isinstance(v, str) for v in item.values()):
                chosen = pick(item, languages)
                result[key] = {chosen[0]: chosen[1]} if chosen else {}
            elif key == "extensions":
                result[key] = item
            else:
                result[key] = _filter_maps(item, languages)
        return result
    if isinstance(value, list):
        return [_filter_maps(v, languages) for v in value]
    return value


def _canonical_activity(obj: dict[str, Any], definitions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if obj.get("objectType", "Activity") == "Activity" and obj["id"] in definitions:
        return {**obj, "definition": definitions[obj["id"]]}
    return obj


def render(session: Session, rows: list[Statement], fmt: str, languages: list[str]) -> list[dict[str, Any]]:
    if fmt == "ids":
        return [_ids_statement(r.data) for r in rows]
    if fmt == "canonical":
        ids = {r.data["object"]["id"] for r in rows if r.data["object"].get("objectType", "Activity") == "Activity"}
        definitions = {a.id: a.definition for a in session.scalars(select(Activity).where(Activity.id.in_(list(ids))))} if ids else {}
        out = []
        for r in rows:
            s = dict(r.data)
            s["object"] = _canonical_activity(s["object"], definitions)
            out.append(_filter_maps(s, languages or ["en"]))
        return out
    return [r.data for r in rows]

