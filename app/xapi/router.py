"""The xAPI Learning Record Store, mounted at /xapi (xAPI 1.0.3 and 2.0.0).

Parameters are parsed by hand from the query string so that unknown or malformed ones are
`400 Bad Request` as the specification requires (never FastAPI's 422).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import service as auth_service
from app.auth.dependencies import CurrentPrincipal
from app.core.db import utcnow
from app.core.deps import RuntimeDep, SessionDep
from app.core.errors import BadRequest, Forbidden
from app.core.i18n import parse_accept_language
from app.core.openapi import problems
from app.core.pagination import decode_keyset, encode_cursor
from app.core.runtime import Runtime
from app.users import service as users_service
from app.xapi import auth as lrs_auth
from app.xapi import documents, multipart, statements, validation
from app.xapi.auth import LrsAuth, LrsUnauthorized
from app.xapi.models import Activity, Attachment
from app.xapi.validation import StatementInvalid, ifi_of

router = APIRouter(prefix="/xapi", tags=["xapi"])
admin_router = APIRouter(prefix="/api/v1/lrs", tags=["lrs"], responses=problems(401, 403))
SUPPORTED = ("1.0.3", "2.0.0")
_VERSION = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"


# Dependencies -----------------------------------------------------------------------------


def xapi_version(request: Request) -> str:
    value = request.headers.get("x-experience-api-version")
    if value is None:
        raise BadRequest("The X-Experience-API-Version header is required.")
    if not _VERSION.match(value.strip()):
        raise BadRequest(f"X-Experience-API-Version {value!r} is not supported; use 1.0.x or 2.0.x.")
    return value.strip()


def lrs_caller(request: Request, session: Session, rt: Runtime) -> LrsAuth:
    """Who is calling. Looked up once per session and credential: the writes of a group commit
    (see `_write`) are prepared on one session, mostly for the same few clients."""
    header = request.headers.get("authorization") or ""
    known = session.info.setdefault("lrs_callers", {})
    if header in known:
        return known[header]
    scheme = header.split(" ", 1)[0].lower()
    base = rt.settings.public_base_url
    if scheme == "basic":
        key, secret = lrs_auth.parse_basic(header)
        auth = lrs_auth.for_client(session, rt.settings.secret_key, base, key, secret, utcnow())
    elif scheme == "bearer":
        try:
            principal = auth_service.resolve_access_token(session, rt, header.split(" ", 1)[1].strip(), now=utcnow())
        except Exception as exc:  # any token failure is "unauthorized" here
            raise LrsUnauthorized("The bearer token is invalid or expired.") from exc
        auth = lrs_auth.for_user(principal, base)
    else:
        raise LrsUnauthorized()
    known[header] = auth
    return auth


def _params(request: Request, allowed: set[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise BadRequest(f"Unknown parameter {key!r}.")
        if key in values:
            raise BadRequest(f"Parameter {key!r} is given twice.")
        values[key] = value
    return values


def _timestamp_param(value: str, name: str) -> dt.datetime:
    try:
        validation.parse_timestamp(value, name)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (StatementInvalid, ValueError):
        raise BadRequest(f"{name} must be an ISO 8601 timestamp.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _agent_param(value: str, name: str = "agent") -> tuple[dict[str, Any], str]:
    try:
        agent = json.loads(value)
        validation.agent(agent, name)
    except (ValueError, StatementInvalid) as exc:
        raise BadRequest(f"{name} must be an Agent or identified Group as JSON: {exc}") from None
    ifi = ifi_of(agent)
    if ifi is None:
        raise BadRequest(f"{name} must carry an inverse functional identifier.")
    return agent, ifi


def _iri_param(value: str, name: str) -> str:
    try:
        return validation.iri(value, name)
    except StatementInvalid as exc:
        raise BadRequest(str(exc)) from None


def _bool_param(value: str, name: str) -> bool:
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false.")
    return value == "true"


def _consistent_headers(response: Response) -> None:
    response.headers["X-Experience-API-Consistent-Through"] = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


# About ------------------------------------------------------------------------------------


@router.get("/about")
def about() -> dict[str, Any]:
    """The versions this LRS speaks (no authentication or version header needed)."""
    return {"version": list(SUPPORTED), "extensions": {"https://rmtc.example/xapi/extensions/lrs": {"name": "RMTC LRS"}}}


# Statements -------------------------------------------------------------------------------


def _hash_for(sha2: str, data: bytes) -> str:
    algorithm = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}.get(len(sha2))
    return algorithm(data).hexdigest() if algorithm else ""


def _read_statements_body(request_body: bytes, content_type: str) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """The statements JSON and attachment parts by sha2."""
    mime = content_type.split(";")[0].strip().lower()
    if mime == "multipart/mixed":
        parts = multipart.parse(content_type, request_body)
        if parts[0].content_type != "application/json":
            raise BadRequest("The first part of a multipart statement request must be application/json.")
        payload = parts[0].body
        attached: dict[str, tuple[str, bytes]] = {}
        for part in parts[1:]:
            declared = part.headers.get("x-experience-api-hash")
            if not declared:
                raise BadRequest("Every attachment part needs an X-Experience-API-Hash header.")
            if part.headers.get("content-transfer-encoding", "binary").lower() != "binary":
                raise BadRequest("Attachment parts must use Content-Transfer-Encoding: binary.")
            if _hash_for(declared.lower(), part.body) != declared.lower():
                raise BadRequest(f"The attachment part's content does not match its hash {declared}.")
            attached[declared.lower()] = (part.content_type or "application/octet-stream", part.body)
    elif mime == "application/json":
        payload, attached = request_body, {}
    else:
        raise BadRequest("Statements are sent as application/json or multipart/mixed.")
    try:
        return orjson.loads(payload), attached
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.") from None


def _check_attachments(prepared: list[dict[str, Any]], attached: dict[str, tuple[str, bytes]]) -> None:
    wanted = set()
    for s in prepared:
        for a in s.get("attachments", []) or []:
            # With a fileUrl the bytes may come in a part or stay at the URL; without one, a part is required.
            wanted.add(a["sha2"].lower())
            if "fileUrl" not in a:
                if a["sha2"].lower() not in attached:
                    raise BadRequest(f"Statement {s['id']}: no attachment part with hash {a['sha2']}.")
            if a["usageType"] == SIGNATURE_USAGE and a["sha2"].lower() in attached:
                _verify_signature(s, attached[a["sha2"].lower()][1], a)
    unused = set(attached) - wanted
    if unused:
        raise BadRequest(f"Attachment parts not referenced by any statement: {', '.join(sorted(unused))}.")


def _verify_signature(statement: dict[str, Any], jws: bytes, attachment: dict[str, Any]) -> None:
    """A signed statement: a compact JWS (RS256/384/512) whose payload is the statement."""
    from app.xapi.signatures import SignatureInvalid, verify_statement_signature

    if attachment["contentType"] != "application/octet-stream":
        raise BadRequest("A statement signature attachment has contentType application/octet-stream.")
    try:
        verify_statement_signature(statement, jws)
    except SignatureInvalid as exc:
        raise BadRequest(f"Statement {statement['id']}: invalid signature: {exc}") from None


def _store_attachments(session, rt: Runtime, attached: dict[str, tuple[str, bytes]]) -> None:
    if not attached:
        return
    known = set(session.scalars(select(Attachment.sha2).where(Attachment.sha2.in_(list(attached)))))
    for sha2, (ctype, data) in attached.items():
        if sha2 in known:
            continue
        key = f"xapi/attachments/{sha2}"
        rt.storage.put_bytes(key, data, content_type=ctype)
        session.add(Attachment(sha2=sha2, content_type=ctype, length=len(data), storage_key=key))
    session.flush()


@router.put("/statements", status_code=status.HTTP_204_NO_CONTENT, responses=problems(400, 401, 403, 409))
async def put_statement(request: Request) -> Response:
    """Store one statement under the id given as `statementId`."""
    version = xapi_version(request)
    body = await request.body()
    return await _write(request, _put_statement, body, version)


def _put_statement(request: Request, session, rt: Runtime, auth: LrsAuth, body: bytes, version: str) -> Write:
    params = _params(request, {"statementId"})
    if "statementId" not in params:
        raise BadRequest("PUT /statements needs the statementId parameter.")
    statement_id = params["statementId"]
    if not validation.is_uuid(statement_id):
        raise BadRequest("statementId must be a UUID.")
    data, attached = _read_statements_body(body, request.headers.get("content-type", ""))
    if not isinstance(data, dict):
        raise BadRequest("PUT /statements takes one statement (a JSON object).")
    if "id" in data and str(data["id"]).lower() != statement_id.lower():
        raise BadRequest("The statement's id differs from the statementId parameter.")
    data = {**data, "id": statement_id.lower()}
    prepared = statements.prepare([data], auth, version=version, parsed=True)
    _check_attachments(prepared, attached)
    return _StatementsWrite(rt, auth, prepared, attached, lambda ids: Response(status_code=204),
                            statements.ready_to_store(session, prepared, base_url=rt.settings.public_base_url))


@router.post("/statements", responses=problems(400, 401, 403, 409))
async def post_statements(request: Request) -> Response:
    """Store one statement or an array of statements (all or nothing); returns their ids."""
    version = xapi_version(request)
    body = await request.body()
    return await _write(request, _post_statements, body, version)


def _post_statements(request: Request, session, rt: Runtime, auth: LrsAuth, body: bytes, version: str) -> Write:
    _params(request, set())
    data, attached = _read_statements_body(body, request.headers.get("content-type", ""))
    batch = data if isinstance(data, list) else [data]
    if not batch:
        raise BadRequest("An empty array of statements.")
    prepared = statements.prepare(batch, auth, version=version, parsed=True)
    _check_attachments(prepared, attached)
    return _StatementsWrite(rt, auth, prepared, attached, lambda ids: Response(orjson.dumps(ids), media_type="application/json"),
                            statements.ready_to_store(session, prepared, base_url=rt.settings.public_base_url))


@dataclass
class _StatementsWrite:
    """The write of a statements request (see `_write`); the writes of several requests without
    attachments are combined into one insert when they do not refer to each other. `ready`: what
    the write needs that does not depend on the database's state, computed before the write."""

    rt: Runtime
    auth: LrsAuth
    prepared: list[dict[str, Any]]
    attached: dict[str, tuple[str, bytes]]
    respond: Callable[[list[str]], Response]
    ready: statements.Ready

    @property
    def weight(self) -> int:  # what a group commit counts to limit its size
        return len(self.prepared)

    def __call__(self, session: Session) -> Response:
        _store_attachments(session, self.rt, self.attached)
        now = statements.next_stored(session, len(self.prepared))
        ids = statements.store(session, self.auth, self.prepared, base_url=self.rt.settings.public_base_url, now=now,
                               ready=self.ready)
        _written(self.rt, len(ids))
        return self.respond(ids)

    @staticmethod
    def combine(session: Session, writes: list[_StatementsWrite]) -> list[Response]:
        # Credentials limited to a learner (launched content) write alone: profile hooks (cmi5)
        # check each write against the state the previous one left.
        if any(w.attached or w.auth.own_ifis for w in writes) or not statements.independent([w.prepared for w in writes]):
            raise _NotCombined
        now = statements.next_stored(session, sum(len(w.prepared) for w in writes))
        results = statements.store_batches(session, [(w.auth, w.prepared) for w in writes],
                                           base_url=writes[0].rt.settings.public_base_url, now=now,
                                           ready=[w.ready for w in writes])
        _written(writes[0].rt, sum(len(ids) for ids in results))
        return [w.respond(ids) for w, ids in zip(writes, results)]


class _NotCombined(Exception):
    pass


def _written(rt: Runtime, count: int) -> None:
    """Count statements toward this worker's recycling (see app.core.recycling)."""
    if rt.recycler is not None:
        rt.recycler.add(count)


STATEMENT_PARAMS = {"statementId", "voidedStatementId", "agent", "verb", "activity", "registration", "related_activities",
                    "related_agents", "since", "until", "limit", "format", "attachments", "ascending", "cursor"}


@router.get("/statements", responses=problems(400, 401, 403, 404))
async def get_statements(request: Request) -> Response:
    """One statement (`statementId` / `voidedStatementId`) or a filtered list with a `more` link."""
    version = xapi_version(request)
    return await _in_thread(request, _get_statements, version)


@router.head("/statements", include_in_schema=False)
async def head_statements(request: Request) -> Response:
    version = xapi_version(request)
    response = await _in_thread(request, _get_statements, version)
    return Response(status_code=response.status_code, headers={k: v for k, v in response.headers.items() if k != "content-length"})


def _get_statements(request: Request, session, rt: Runtime, auth: LrsAuth, version: str) -> Response:
    raw = _params(request, STATEMENT_PARAMS)
    fmt = raw.get("format", "exact")
    if fmt not in ("exact", "ids", "canonical"):
        raise BadRequest("format must be exact, ids or canonical.")
    with_attachments = _bool_param(raw["attachments"], "attachments") if "attachments" in raw else False
    languages = parse_accept_language(request.headers.get("accept-language"))
    single = raw.get("statementId") or raw.get("voidedStatementId")
    if "statementId" in raw and "voidedStatementId" in raw:
        raise BadRequest("Give statementId or voidedStatementId, not both.")
    if single is not None:
        extra = set(raw) - {"statementId", "voidedStatementId", "format", "attachments"}
        if extra:
            raise BadRequest(f"{', '.join(sorted(extra))} cannot be combined with a statement id.")
        row = statements.get_one(session, auth, single, voided="voidedStatementId" in raw)
        rendered = statements.render(session, [row], fmt, languages)[0]
        response = _statements_response(session, rt, rendered, [rendered], with_attachments)
        response.headers["Last-Modified"] = _http_date(row.stored)
        _consistent_headers(response)
        return response
    params = statements.QueryParams(format=fmt, attachments=with_attachments)
    if "agent" in raw:
        params.agent = _agent_param(raw["agent"])[1]
    if "verb" in raw:
        params.verb = _iri_param(raw["verb"], "verb")
    if "activity" in raw:
        params.activity = _iri_param(raw["activity"], "activity")
    if "registration" in raw:
        if not validation.is_uuid(raw["registration"]):
            raise BadRequest("registration must be a UUID.")
        params.registration = raw["registration"]
    for name in ("related_activities", "related_agents", "ascending"):
        if name in raw:
            setattr(params, name, _bool_param(raw[name], name))
    if "since" in raw:
        params.since = _timestamp_param(raw["since"], "since")
    if "until" in raw:
        params.until = _timestamp_param(raw["until"], "until")
    limit = DEFAULT_LIMIT
    if "limit" in raw:
        try:
            limit = int(raw["limit"])
        except ValueError:
            raise BadRequest("limit must be a non-negative integer.") from None
        if limit < 0:
            raise BadRequest("limit must be a non-negative integer.")
        limit = MAX_LIMIT if limit == 0 else min(limit, MAX_LIMIT)
    after = decode_keyset(raw.get("cursor"))
    # The exact format without attachments returns each statement's JSON as stored, unparsed.
    raw_json = fmt == "exact" and not with_attachments
    rows = statements.query(session, auth, params, after=after, limit=limit + 1, raw=raw_json)
    more = ""
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        query = {k: v for k, v in raw.items() if k != "cursor"}
        query["cursor"] = encode_cursor([last.stored.isoformat(), str(last.id)])
        from urllib.parse import urlencode

        more = "/xapi/statements?" + urlencode(query)
    if raw_json:
        body = b'{"statements":[' + ",".join(r.data for r in rows).encode() + b'],"more":' + orjson.dumps(more) + b"}"
        response = Response(body, media_type="application/json")
    else:
        rendered = statements.render(session, rows, fmt, languages)
        result = {"statements": rendered, "more": more}
        response = _statements_response(session, rt, result, rendered, with_attachments)
    if rows:
        response.headers["Last-Modified"] = _http_date(max(r.stored for r in rows))
    _consistent_headers(response)
    return response


def _statements_response(session, rt: Runtime, payload: Any, rendered: list[dict[str, Any]], with_attachments: bool) -> Response:
    body = orjson.dumps(payload)
    if not with_attachments:
        return Response(body, media_type="application/json")
    hashes = [a["sha2"].lower() for s in rendered for a in s.get("attachments", []) or []]
    rows = {a.sha2: a for a in session.scalars(select(Attachment).where(Attachment.sha2.in_(hashes)))} if hashes else {}
    parts, seen = [], set()
    for sha2 in hashes:
        row = rows.get(sha2)
        if row is None or sha2 in seen:
            continue
        seen.add(sha2)
        parts.append((row.content_type, sha2, rt.storage.get_bytes(row.storage_key)))
    ctype, data = multipart.build(body, parts)
    return Response(data, media_type=ctype)


def _http_date(value: dt.datetime) -> str:
    from email.utils import format_datetime

    return format_datetime(value.astimezone(dt.UTC), usegmt=True)


async def _in_thread(request: Request, fn, *args):
    """Run a sync reading handler in the threadpool with its own transaction (the xAPI handlers
    read the raw body asynchronously first)."""
    rt: Runtime = request.app.state.runtime

    def call():
        with rt.session_factory(bind=rt.engine) as session:
            return fn(request, session, rt, lrs_caller(request, session, rt), *args)

    return await run_in_threadpool(call)


Write = Callable[[Session], Response]


async def _write(request: Request, fn: Callable[..., Write], *args) -> Response:
    """Run a writing handler: `fn(request, session, rt, auth, *args)` authenticates, checks and
    validates, and returns the write to do. On SQLite the write joins the process's group commit
    (concurrent writes share a transaction and its commit); on PostgreSQL each request writes in
    its own transaction in the threadpool."""
    rt: Runtime = request.app.state.runtime

    def prepare(session: Session) -> Write:
        return fn(request, session, rt, lrs_caller(request, session, rt), *args)

    if rt.group_commit is not None:
        return await rt.group_commit.run(prepare)

    def call() -> Response:
        with rt.session_factory(bind=rt.write_engine) as session:
            result = prepare(session)(session)
            session.commit()
            return result

    return await run_in_threadpool(call)


# Documents --------------------------------------------------------------------------------


def _doc_key(request: Request, kind: str, raw: dict[str, str], *, need_id: bool, version: str) -> tuple[documents.DocKey, str | None, dt.datetime | None]:
    if kind == "agent_profile":
        if "agent" not in raw:
            raise BadRequest("agent is required.")
        key = documents.DocKey(kind=kind, agent_ifi=_agent_param(raw["agent"])[1])
        doc_param = "profileId"
    else:
        if "activityId" not in raw:
            raise BadRequest("activityId is required.")
        activity_id = _iri_param(raw["activityId"], "activityId")
        if kind == "state":
            if "agent" not in raw:
                raise BadRequest("agent is required.")
            registration = raw.get("registration", "")
            if registration and not validation.is_uuid(registration):
                raise BadRequest("registration must be a UUID.")
            key = documents.DocKey(kind=kind, activity_id=activity_id, agent_ifi=_agent_param(raw["agent"])[1],
                                   registration=registration.lower())
            doc_param = "stateId"
        else:
            key = documents.DocKey(kind=kind, activity_id=activity_id)
            doc_param = "profileId"
    doc_id = raw.get(doc_param)
    if need_id and doc_id is None:
        raise BadRequest(f"{doc_param} is required.")
    since = _timestamp_param(raw["since"], "since") if "since" in raw else None
    if since is not None and doc_id is not None:
        raise BadRequest("since is used to list documents, without a document id.")
    return key, doc_id, since


_DOC_PARAMS = {
    "state": {"activityId", "agent", "registration", "stateId", "since"},
    "activity_profile": {"activityId", "profileId", "since"},
    "agent_profile": {"agent", "profileId", "since"},
}
LMS_STATE_PREFIX = "LMS."
_DOC_SCOPE = {"state": "state", "activity_profile": "profile", "agent_profile": "profile"}


def _doc_access(auth: LrsAuth, kind: str, key: documents.DocKey, write: bool) -> None:
    scope = _DOC_SCOPE[kind]
    if write:
        if not (auth.can(scope) or auth.can("all")):
            raise Forbidden(f"This credential lacks the {scope} scope.")
    elif not (auth.can(scope) or auth.can("all/read")):
        raise Forbidden(f"This credential lacks the {scope} scope.")
    if auth.own_ifis and key.agent_ifi and key.agent_ifi not in auth.own_ifis:
        raise Forbidden("This credential accesses its own learner's documents only.")
    if auth.own_ifis and kind == "activity_profile" and write and not auth.can("all"):
        raise Forbidden("Activity profiles are written by LRS clients with the profile scope.")
    if auth.registration and kind == "state" and key.registration not in ("", auth.registration):
        raise Forbidden("This credential is limited to its registration.")


def _document_handler(kind: str):
    async def handler(request: Request) -> Response:
        version = xapi_version(request)
        if request.method in ("GET", "HEAD"):
            return await _in_thread(request, _document_read, kind, version)
        body = await request.body() if request.method in ("PUT", "POST") else b""
        return await _write(request, _document_write, kind, body, version)

    return handler


def _document_request(request: Request, auth: LrsAuth, kind: str, version: str) -> tuple[documents.DocKey, str | None, dt.datetime | None]:
    method = request.method
    raw = _params(request, _DOC_PARAMS[kind])
    need_id = method in ("PUT", "POST") or (method == "DELETE" and kind != "state")
    key, doc_id, since = _doc_key(request, kind, raw, need_id=need_id, version=version)
    _doc_access(auth, kind, key, write=method in ("PUT", "POST", "DELETE"))
    # Credentials limited to one learner (a launched AU's, the learner's own) read, but never change,
    # the LMS's own state documents (cmi5 `LMS.LaunchData`).
    if auth.own_ifis and kind == "state" and method in ("PUT", "POST", "DELETE") and (doc_id or "").startswith(LMS_STATE_PREFIX):
        raise Forbidden(f"{doc_id} is written by the LMS; an AU may only read it.")
    return key, doc_id, since


def _document_read(request: Request, session, rt: Runtime, auth: LrsAuth, kind: str, version: str) -> Response:
    key, doc_id, since = _document_request(request, auth, kind, version)
    if doc_id is None:
        ids = documents.list_ids(session, key, since)
        return Response(orjson.dumps(ids), media_type="application/json")
    doc = documents.require(documents.get(session, key, doc_id), "document")
    headers = {"ETag": f'"{doc.etag}"', "Last-Modified": _http_date(doc.updated_at)}
    return Response(doc.content if request.method == "GET" else b"", media_type=doc.content_type, headers=headers)


def _document_write(request: Request, session, rt: Runtime, auth: LrsAuth, kind: str, body: bytes, version: str) -> Write:
    key, doc_id, _ = _document_request(request, auth, kind, version)
    method = request.method
    if_match = request.headers.get("if-match")
    if_none_match = request.headers.get("if-none-match")
    content_type = request.headers.get("content-type")

    def write(session) -> Response:
        now = utcnow()
        if method == "PUT":
            documents.put(session, key, doc_id, body, content_type, now=now, if_match=if_match, if_none_match=if_none_match,
                          concurrency="required" if kind != "state" else "existing" if version.startswith("2.") else "optional")
        elif method == "POST":
            documents.post(session, key, doc_id, body, content_type, now=now, if_match=if_match, if_none_match=if_none_match)
        else:
            documents.remove(session, key, doc_id, if_match=if_match,
                             keep_prefix=LMS_STATE_PREFIX if auth.own_ifis and kind == "state" else None)
        return Response(status_code=204)

    return write


for _path, _kind in (("/activities/state", "state"), ("/activities/profile", "activity_profile"), ("/agents/profile", "agent_profile")):
    for _method in ("GET", "HEAD", "PUT", "POST", "DELETE"):
        router.add_api_route(
            _path, _document_handler(_kind), methods=[_method], name=f"{_kind}_{_method.lower()}",
            include_in_schema=_method != "HEAD", responses=problems(400, 401, 403, 404, 409, 412),
        )


# Activities and agents --------------------------------------------------------------------


def _activity(request: Request, session, rt: Runtime, auth: LrsAuth, version: str) -> Response:
    raw = _params(request, {"activityId"})
    if "activityId" not in raw:
        raise BadRequest("activityId is required.")
    activity_id = _iri_param(raw["activityId"], "activityId")
    row = session.get(Activity, activity_id)
    body: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if row is not None and row.definition:
        body["definition"] = row.definition
    return Response(orjson.dumps(body), media_type="application/json")


def _person(request: Request, session, rt: Runtime, auth: LrsAuth, version: str) -> Response:
    raw = _params(request, {"agent"})
    if "agent" not in raw:
        raise BadRequest("agent is required.")
    agent, ifi = _agent_param(raw["agent"])
    person: dict[str, Any] = {"objectType": "Person"}
    if "name" in agent:
        person["name"] = [agent["name"]]
    for key in validation.IFI_KEYS:
        if key in agent:
            person[key] = [agent[key]]
    # An agent that maps to a platform user is shown with the user's other identifiers.
    user = None
    if ifi.startswith("mbox:mailto:"):
        user = users_service.find_by_email(session, ifi[len("mbox:mailto:"):])
    elif ifi.startswith(f"account:{rt.settings.public_base_url}|"):
        try:
            user = users_service.get_by_id(session, uuid.UUID(ifi.split("|", 1)[1]))
        except ValueError:
            user = None
    visible = auth.can("all/read") and not auth.own_ifis or ifi in auth.own_ifis
    if user is not None and visible:
        person["name"] = list(dict.fromkeys([*person.get("name", []), user.full_name]))
        person["mbox"] = list(dict.fromkeys([*person.get("mbox", []), f"mailto:{user.email}"]))
        person["account"] = list({json.dumps(a, sort_keys=True): a for a in [
            *person.get("account", []), {"homePage": rt.settings.public_base_url, "name": str(user.id)}]}.values())
    return Response(orjson.dumps(person), media_type="application/json")


@router.get("/activities", responses=problems(400, 401))
async def get_activity(request: Request) -> Response:
    """The LRS's canonical definition of an activity."""
    version = xapi_version(request)
    return await _in_thread(request, _activity, version)


@router.head("/activities", include_in_schema=False)
async def head_activity(request: Request) -> Response:
    version = xapi_version(request)
    response = await _in_thread(request, _activity, version)
    return Response(status_code=response.status_code, headers={"content-type": "application/json"})


@router.get("/agents", responses=problems(400, 401))
async def get_agent(request: Request) -> Response:
    """A Person object combining what the LRS knows of an agent."""
    version = xapi_version(request)
    return await _in_thread(request, _person, version)


@router.head("/agents", include_in_schema=False)
async def head_agent(request: Request) -> Response:
    version = xapi_version(request)
    response = await _in_thread(request, _person, version)
    return Response(status_code=response.status_code, headers={"content-type": "application/json"})


# LRS credentials (admin API) --------------------------------------------------------------


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Regional analytics dashboard"])
    scopes: list[str] = Field(min_length=1, examples=[["statements/read"]], description=f"Any of: {', '.join(lrs_auth.SCOPES)}")
    country_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="Only this country's learners' statements")


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    key: str
    scopes: list[str]
    country_code: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ClientCreated(ClientOut):
    secret: str = Field(description="Shown once: store it now (HTTP Basic password)")


@admin_router.post("/clients", response_model=ClientCreated, status_code=status.HTTP_201_CREATED, responses=problems(422))
def create_client(data: ClientCreate, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> ClientCreated:
    """Issue an LRS credential (HTTP Basic key/secret) with xAPI scopes."""
    client, secret = lrs_auth.create_client(session, rt.settings.secret_key, principal, name=data.name, scopes=data.scopes,
                                            country_code=data.country_code)
    return ClientCreated(**ClientOut.model_validate(client).model_dump(), secret=secret)


@admin_router.get("/clients", response_model=list[ClientOut])
def list_clients(session: SessionDep, principal: CurrentPrincipal) -> list[ClientOut]:
    return [ClientOut.model_validate(c) for c in lrs_auth.list_clients(session, principal)]


@admin_router.post("/clients/{client_id}/revoke", response_model=ClientOut, responses=problems(404))
def revoke_client(client_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> ClientOut:
    return ClientOut.model_validate(lrs_auth.revoke_client(session, principal, client_id, utcnow()))

