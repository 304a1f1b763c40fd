"""xAPI statement validation (1.0.3, with the 2.0.0 additions), as plain functions.

Every rule of the Data specification that an LRS MUST enforce: allowed properties (case-exact),
no nulls outside extensions, types, exactly one inverse functional identifier per Agent, mbox /
mbox_sha1sum / openid / account formats, absolute IRIs, UUIDs, RFC 5646 language map keys,
ISO 8601 timestamps and durations, score bounds, interaction definitions and their components,
SubStatement limits, context rules, attachments metadata. Errors name the offending path.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

import orjson

from app.core.i18n import is_language_tag


class StatementInvalid(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_SHA2 = re.compile(r"^[0-9a-fA-F]{56}$|^[0-9a-fA-F]{64}$|^[0-9a-fA-F]{96}$|^[0-9a-fA-F]{128}$")
_EMAIL = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DURATION = re.compile(
    r"^P(?!$)(?:(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?S)?)?|\d+(?:[.,]\d+)?W)$"
)
_MIME = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(?:\s*;.*)?$")
INTERACTION_TYPES = {
    "true-false": set(),
    "choice": {"choices"},
    "fill-in": set(),
    "long-fill-in": set(),
    "matching": {"source", "target"},
    "performance": {"steps"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "numeric": set(),
    "other": set(),
}
COMPONENT_LISTS = {"choices", "scale", "source", "target", "steps"}
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def _once(seen: set[bytes] | None, check: Callable[..., Any], value: Any, path: str) -> Any:
    """`check(value, path)`, unless `seen` holds a value found valid by it that encodes the
    same. The statements of a batch repeat the same actors, verbs and activities, and encoding
    one costs a fraction of validating its IRIs, language tags and interaction components.
    Only for values parsed from JSON: their orjson encoding is exact, where a Python caller's
    value (a UUID, an enum) could encode like a valid string."""
    if seen is None:
        return check(value, path)
    key = check.__name__.encode() + orjson.dumps(value)
    if key not in seen:
        check(value, path)
        seen.add(key)
    return value


def _fail(path: str, message: str) -> None:
    raise StatementInvalid(path, message)


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object")
    return value


def _allowed(value: dict[str, Any], path: str, allowed: set[str], required: set[str] = frozenset()) -> None:
    for key, item in value.items():
        if key not in allowed:
            _fail(f"{path}.{key}" if path else key, "is not an allowed property here")
        if item is None:
            _fail(f"{path}.{key}" if path else key, "must not be null")
    for key in required:
        if key not in value:
            _fail(f"{path}.{key}" if path else key, "is required")


def _str(value: Any, path: str, *, empty_ok: bool = True) -> str:
    if not isinstance(value, str):
        _fail(path, "must be a string")
    if not empty_ok and value == "":
        _fail(path, "must not be empty")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        _fail(path, "must be a boolean")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        _fail(path, "must be a number")
    return float(value)


def iri(value: Any, path: str) -> str:
    text = _str(value, path)
    if not _IRI.match(text):
        _fail(path, f"{text!r} is not an absolute IRI")
    return text


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def uuid_value(value: Any, path: str) -> str:
    if not is_uuid(value):
        _fail(path, f"{value!r} is not a UUID")
    return value


def language_map(value: Any, path: str) -> dict[str, str]:
    mapping = _obj(value, path)
    for tag, text in mapping.items():
        if not is_language_tag(tag):
            _fail(f"{path}.{tag}", "is not an RFC 5646 language tag")
        if text is None:
            _fail(f"{path}.{tag}", "must not be null")
        _str(text, f"{path}.{tag}")
    return mapping


def extensions(value: Any, path: str) -> None:
    # Any JSON value (null included) is allowed inside extensions; keys must be IRIs.
    for key in _obj(value, path):
        iri(key, f"{path}[{key!r}]")


def parse_timestamp(value: Any, path: str) -> str:
    text = _str(value, path)
    match = _TIMESTAMP.match(text)
    if not match:
        _fail(path, f"{text!r} is not an ISO 8601 timestamp")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        _fail(path, f"{text!r} is not a valid date and time")
    offset = match.group(8)
    if offset and offset.startswith("-") and offset.replace(":", "").strip("-") in ("00", "0000"):
        _fail(path, "the -00:00 offset (unknown local time) is not allowed")
    return text


def duration(value: Any, path: str) -> str:
    text = _str(value, path)
    if not _DURATION.match(text):
        _fail(path, f"{text!r} is not an ISO 8601 duration")
    return text


_SECONDS = re.compile(r"(\d+(?:[.,]\d+)?)S$")


def comparable_duration(text: str) -> str:
    """Durations are compared to 0.01 s: finer precision is truncated (xAPI 2.0, 4.2.7)."""
    match = _SECONDS.search(text)
    if not match:
        return text
    seconds = Decimal(match.group(1).replace(",", ".")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return f"{text[:match.start()]}{seconds}S"


def comparable(statement: dict[str, Any]) -> dict[str, Any]:
    """A shallow-copied statement whose durations (own and a SubStatement's) are truncated for comparison."""
    out = dict(statement)
    for holder_key in (None, "object"):
        holder = out if holder_key is None else out.get("object")
        if not isinstance(holder, dict) or not isinstance(holder.get("result"), dict):
            continue
        result = holder["result"]
        if isinstance(result.get("duration"), str):
            holder = dict(holder) if holder_key else holder
            holder["result"] = {**result, "duration": comparable_duration(result["duration"])}
            if holder_key:
                out[holder_key] = holder
    return out


# Actors -----------------------------------------------------------------------------------

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def _ifi(value: dict[str, Any], path: str) -> None:
    if "mbox" in value:
        mbox = _str(value["mbox"], f"{path}.mbox")
        if not _EMAIL.match(mbox):
            _fail(f"{path}.mbox", "must be a mailto: IRI of an email address")
    if "mbox_sha1sum" in value:
        if not _SHA1.match(_str(value["mbox_sha1sum"], f"{path}.mbox_sha1sum")):
            _fail(f"{path}.mbox_sha1sum", "must be the hex SHA-1 of a mailto IRI")
    if "openid" in value:
        iri(value["openid"], f"{path}.openid")
    if "account" in value:
        account = _obj(value["account"], f"{path}.account")
        _allowed(account, f"{path}.account", {"homePage", "name"}, {"homePage", "name"})
        iri(account["homePage"], f"{path}.account.homePage")
        _str(account["name"], f"{path}.account.name")


def agent(value: Any, path: str, *, allow_group: bool = True, group_only: bool = False) -> dict[str, Any]:
    actor = _obj(value, path)
    object_type = actor.get("objectType", "Agent")
    if object_type == "Group":
        if not allow_group:
            _fail(f"{path}.objectType", "a Group is not allowed here")
        _allowed(actor, path, {"objectType", "name", "member", *IFI_KEYS})
        ifis = [k for k in IFI_KEYS if k in actor]
        if len(ifis) > 1:
            _fail(path, "a Group has at most one inverse functional identifier")
        if "name" in actor:
            _str(actor["name"], f"{path}.name")
        if "member" in actor:
            members = actor["member"]
            if not isinstance(members, list):
                _fail(f"{path}.member", "must be an array of Agents")
            for i, member in enumerate(members):
                if isinstance(member, dict) and member.get("objectType") == "Group":
                    _fail(f"{path}.member[{i}]", "a Group member must be an Agent, not a Group")
                agent(member, f"{path}.member[{i}]", allow_group=False)
        if not ifis and not actor.get("member"):
            _fail(path, "an anonymous Group needs members")
        _ifi(actor, path)
        return actor
    if group_only:
        _fail(f"{path}.objectType", "must be Group")
    if object_type != "Agent":
        _fail(f"{path}.objectType", f"{object_type!r} is not Agent or Group")
    _allowed(actor, path, {"objectType", "name", *IFI_KEYS})
    ifis = [k for k in IFI_KEYS if k in actor]
    if len(ifis) != 1:
        _fail(path, "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account")
    if "name" in actor:
        _str(actor["name"], f"{path}.name")
    _ifi(actor, path)
    return actor


def ifi_of(actor: dict[str, Any]) -> str | None:
    """A canonical string for an Agent's or identified Group's IFI (used for indexing/matching)."""
    if "mbox" in actor:
        return "mbox:" + actor["mbox"].lower()
    if "mbox_sha1sum" in actor:
        return "sha1:" + actor["mbox_sha1sum"].lower()
    if "openid" in actor:
        return "openid:" + actor["openid"]
    if "account" in actor:
        return f"account:{actor['account']['homePage']}|{actor['account']['name']}"
    return None


# Verb, object, result, context ------------------------------------------------------------


def verb(value: Any, path: str) -> dict[str, Any]:
    v = _obj(value, path)
    _allowed(v, path, {"id", "display"}, {"id"})
    iri(v["id"], f"{path}.id")
    if "display" in v:
        language_map(v["display"], f"{path}.display")
    return v


def _components(value: Any, path: str) -> None:
    if not isinstance(value, list):
        _fail(path, "must be an array of interaction components")
    seen = set()
    for i, component in enumerate(value):
        c = _obj(component, f"{path}[{i}]")
        _allowed(c, f"{path}[{i}]", {"id", "description"}, {"id"})
        cid = _str(c["id"], f"{path}[{i}].id", empty_ok=False)
        if cid in seen:
            _fail(f"{path}[{i}].id", f"duplicate component id {cid!r}")
        seen.add(cid)
        if "description" in c:
            language_map(c["description"], f"{path}[{i}].description")


def activity_definition(value: Any, path: str) -> None:
    d = _obj(value, path)
    _allowed(d, path, {"name", "description", "type", "moreInfo", "extensions", "interactionType",
                       "correctResponsesPattern", *COMPONENT_LISTS})
    for key in ("name", "description"):
        if key in d:
            language_map(d[key], f"{path}.{key}")
    if "type" in d:
        iri(d["type"], f"{path}.type")
    if "moreInfo" in d:
        iri(d["moreInfo"], f"{path}.moreInfo")
    if "extensions" in d:
        extensions(d["extensions"], f"{path}.extensions")
    interaction = d.get("interactionType")
    present = COMPONENT_LISTS & d.keys()
    if interaction is None:
        if "correctResponsesPattern" in d or present:
            _fail(f"{path}.interactionType", "is required with interaction properties")
        return
    if not isinstance(interaction, str) or interaction not in INTERACTION_TYPES:
        _fail(f"{path}.interactionType", f"{interaction!r} is not an xAPI interaction type")
    not_allowed = present - INTERACTION_TYPES[interaction]
    if not_allowed:
        _fail(f"{path}.{sorted(not_allowed)[0]}", f"is not used with interactionType {interaction!r}")
    for key in present:
        _components(d[key], f"{path}.{key}")
    if "correctResponsesPattern" in d:
        pattern = d["correctResponsesPattern"]
        if not isinstance(pattern, list):
            _fail(f"{path}.correctResponsesPattern", "must be an array of strings")
        for i, item in enumerate(pattern):
            _str(item, f"{path}.correctResponsesPattern[{i}]")


def activity(value: Any, path: str) -> dict[str, Any]:
    a = _obj(value, path)
    _allowed(a, path, {"objectType", "id", "definition"}, {"id"})
    if a.get("objectType", "Activity") != "Activity":
        _fail(f"{path}.objectType", "must be Activity")
    iri(a["id"], f"{path}.id")
    if "definition" in a:
        activity_definition(a["definition"], f"{path}.definition")
    return a


def statement_ref(value: Any, path: str) -> dict[str, Any]:
    ref = _obj(value, path)
    _allowed(ref, path, {"objectType", "id"}, {"objectType", "id"})
    if ref["objectType"] != "StatementRef":
        _fail(f"{path}.objectType", "must be StatementRef")
    uuid_value(ref["id"], f"{path}.id")
    return ref


def statement_object(value: Any, path: str, *, in_substatement: bool, version: str, seen: set[bytes] | None = None) -> dict[str, Any]:
    o = _obj(value, path)
    object_type = o.get("objectType", "Activity")
    if object_type == "Activity":
        return _once(seen, activity, o, path)
    if object_type in ("Agent", "Group"):
        return _once(seen, agent, o, path)
    if object_type == "StatementRef":
        return statement_ref(o, path)
    if object_type == "SubStatement":
        if in_substatement:
            _fail(f"{path}.objectType", "a SubStatement cannot contain a SubStatement")
        _statement_body(o, path, version=version, substatement=True, seen=seen)
        return o
    _fail(f"{path}.objectType", f"{object_type!r} is not a valid object type")
    return o


def result(value: Any, path: str) -> None:
    r = _obj(value, path)
    _allowed(r, path, {"score", "success", "completion", "response", "duration", "extensions"})
    if "score" in r:
        s = _obj(r["score"], f"{path}.score")
        _allowed(s, f"{path}.score", {"scaled", "raw", "min", "max"})
        values = {k: _number(s[k], f"{path}.score.{k}") for k in s}
        if "scaled" in values and not -1 <= values["scaled"] <= 1:
            _fail(f"{path}.score.scaled", "must be between -1 and 1")
        if "min" in values and "max" in values and values["min"] > values["max"]:
            _fail(f"{path}.score.min", "must not exceed max")
        if "raw" in values:
            if "min" in values and values["raw"] < values["min"]:
                _fail(f"{path}.score.raw", "must not be below min")
            if "max" in values and values["raw"] > values["max"]:
                _fail(f"{path}.score.raw", "must not exceed max")
    if "success" in r:
        _bool(r["success"], f"{path}.success")
    if "completion" in r:
        _bool(r["completion"], f"{path}.completion")
    if "response" in r:
        _str(r["response"], f"{path}.response")
    if "duration" in r:
        duration(r["duration"], f"{path}.duration")
    if "extensions" in r:
        extensions(r["extensions"], f"{path}.extensions")


def _context_activities(value: Any, path: str, seen: set[bytes] | None) -> None:
    ca = _obj(value, path)
    _allowed(ca, path, {"parent", "grouping", "category", "other"})
    for key, items in ca.items():
        if isinstance(items, dict):
            _once(seen, activity, items, f"{path}.{key}")
        elif isinstance(items, list):
            for i, item in enumerate(items):
                _once(seen, activity, item, f"{path}.{key}[{i}]")
        else:
            _fail(f"{path}.{key}", "must be an Activity or an array of Activities")


def context(value: Any, path: str, *, object_is_activity: bool, version: str, seen: set[bytes] | None = None) -> None:
    c = _obj(value, path)
    allowed = {"registration", "instructor", "team", "contextActivities", "revision", "platform", "language",
               "statement", "extensions"}
    if version.startswith("2."):
        allowed |= {"contextAgents", "contextGroups"}
    _allowed(c, path, allowed)
    if "registration" in c:
        uuid_value(c["registration"], f"{path}.registration")
    if "instructor" in c:
        _once(seen, agent, c["instructor"], f"{path}.instructor")
    if "team" in c:
        agent(c["team"], f"{path}.team", group_only=True)
    if "contextActivities" in c:
        _context_activities(c["contextActivities"], f"{path}.contextActivities", seen)
    for key in ("revision", "platform"):
        if key in c:
            if not object_is_activity:
                _fail(f"{path}.{key}", "is only allowed when the object is an Activity")
            _str(c[key], f"{path}.{key}")
    if "language" in c:
        if not is_language_tag(_str(c["language"], f"{path}.language")):
            _fail(f"{path}.language", "is not an RFC 5646 language tag")
    if "statement" in c:
        statement_ref(c["statement"], f"{path}.statement")
    if "extensions" in c:
        extensions(c["extensions"], f"{path}.extensions")
    for key, inner, group in (("contextAgents", "agent", False), ("contextGroups", "group", True)):
        if key in c:
            if not isinstance(c[key], list):
                _fail(f"{path}.{key}", "must be an array")
            for i, item in enumerate(c[key]):
                entry = _obj(item, f"{path}.{key}[{i}]")
                expected = "contextAgent" if key == "contextAgents" else "contextGroup"
                _allowed(entry, f"{path}.{key}[{i}]", {"objectType", inner, "relevantTypes"}, {"objectType", inner})
                if entry["objectType"] != expected:
                    _fail(f"{path}.{key}[{i}].objectType", f"must be {expected}")
                agent(entry[inner], f"{path}.{key}[{i}].{inner}", allow_group=group, group_only=group)
                if "relevantTypes" in entry:
                    types = entry["relevantTypes"]
                    if not isinstance(types, list) or not types:
                        _fail(f"{path}.{key}[{i}].relevantTypes", "must be a non-empty array of IRIs")
                    for j, t in enumerate(types):
                        iri(t, f"{path}.{key}[{i}].relevantTypes[{j}]")


def attachments(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        _fail(path, "must be an array")
    for i, item in enumerate(value):
        a = _obj(item, f"{path}[{i}]")
        here = f"{path}[{i}]"
        _allowed(a, here, {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"},
                 {"usageType", "display", "contentType", "length", "sha2"})
        iri(a["usageType"], f"{here}.usageType")
        language_map(a["display"], f"{here}.display")
        if "description" in a:
            language_map(a["description"], f"{here}.description")
        if not _MIME.match(_str(a["contentType"], f"{here}.contentType")):
            _fail(f"{here}.contentType", "is not an Internet media type")
        if isinstance(a["length"], bool) or not isinstance(a["length"], int) or a["length"] < 0:
            _fail(f"{here}.length", "must be a non-negative integer")
        if not _SHA2.match(_str(a["sha2"], f"{here}.sha2")):
            _fail(f"{here}.sha2", "must be a hex SHA-2 digest")
        if "fileUrl" in a:
            iri(a["fileUrl"], f"{here}.fileUrl")
    return value


def _statement_body(s: dict[str, Any], path: str, *, version: str, substatement: bool, seen: set[bytes] | None) -> None:
    allowed = {"actor", "verb", "object", "result", "context", "timestamp", "attachments"}
    if substatement:
        allowed.add("objectType")
    else:
        allowed |= {"id", "stored", "authority", "version"}
    _allowed(s, path, allowed, {"actor", "verb", "object"})
    prefix = f"{path}." if path else ""
    _once(seen, agent, s["actor"], f"{prefix}actor")
    _once(seen, verb, s["verb"], f"{prefix}verb")
    obj = statement_object(s["object"], f"{prefix}object", in_substatement=substatement, version=version, seen=seen)
    if "result" in s:
        result(s["result"], f"{prefix}result")
    if "context" in s:
        context(s["context"], f"{prefix}context", object_is_activity=obj.get("objectType", "Activity") == "Activity",
                version=version, seen=seen)
    if "timestamp" in s:
        parse_timestamp(s["timestamp"], f"{prefix}timestamp")
    if "attachments" in s:
        attachments(s["attachments"], f"{prefix}attachments")


def validate_statement(value: Any, *, version: str = "1.0.3", seen: set[bytes] | None = None) -> dict[str, Any]:
    """Validate one statement as received; raises StatementInvalid naming the first problem.

    `seen`, for statements parsed from JSON: a set the caller keeps (e.g. for a batch), in which
    the agents, verbs and activities found valid are remembered (by their encoding), so that
    each one is validated once."""
    s = _obj(value, "statement")
    _statement_body(s, "", version=version, substatement=False, seen=seen)
    if "id" in s:
        uuid_value(s["id"], "id")
    if "stored" in s:
        parse_timestamp(s["stored"], "stored")
    if "authority" in s:
        authority = agent(s["authority"], "authority")
        if authority.get("objectType") == "Group":
            if any(k in authority for k in IFI_KEYS) or len(authority.get("member", [])) != 2:
                _fail("authority", "a Group authority is anonymous with exactly two members (OAuth consumer and user)")
    if "version" in s:
        text = _str(s["version"], "version")
        if not re.match(r"^(1\.0(\.\d+)?|2\.0\.\d+)$", text):
            _fail("version", f"{text!r} is not a supported xAPI version (1.0.x or 2.0.x)")
    if s["verb"]["id"] == VOIDED:
        obj = s["object"]
        if obj.get("objectType") != "StatementRef":
            _fail("object", "a voiding statement's object must be a StatementRef")
    return s


def new_statement_id() -> str:
    return str(uuid.uuid4())
