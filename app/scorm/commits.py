"""Commit bodies: this project's player and the `scorm-again` runtime's `lmsCommitUrl` formats.

Accepted (as `application/json` or as the `text/plain` body of `navigator.sendBeacon`):
- flattened: `{"cmi.core.lesson_status": "completed", "cmi.interactions.0.id": "q1", ...}`;
- nested (scorm-again's default "json"): `{"cmi": {"core": {"lesson_status": ...}, "interactions": {"0": {...}}}}`
  (arrays as lists or as objects keyed by index);
- scorm-again's common commit fields: `{"successStatus": ..., "completionStatus": ..., "totalTimeSeconds": ...,
  "runtimeData": {"cmi": {...}}}` (the summary fields are ignored: the server derives them from the CMI data);
- this project's player: `{"sequence": 7, "terminate": false, "data": {flattened}}`.
Commits may carry only changed elements (scorm-again's `sendFullCommit: false`): they are merged
into the stored data. A sequence (`sequence`, or scorm-again's `commitSequence`) makes repeated
and out-of-order commits harmless; `terminate` / `isFinal` / `final` mark the last commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_ELEMENTS = 20_000


class CommitFormatError(ValueError):
    pass


@dataclass
class Commit:
    data: dict[str, str]
    sequence: int | None = None
    terminate: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _scalar(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise CommitFormatError(f"{where}: expected a text value")


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if len(out) > MAX_ELEMENTS:
        raise CommitFormatError("too many elements in one commit")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key or "." in key and prefix:
                raise CommitFormatError(f"{prefix or 'body'}: bad key {str(key)[:40]!r}")
            _flatten(f"{prefix}.{key}" if prefix else key, item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(f"{prefix}.{index}", item, out)
    else:
        text = _scalar(value, prefix)
        if text is not None:
            out[prefix] = text


def _is_keyword(element: str) -> bool:
    last = element.rsplit(".", 1)[-1]
    return last in ("_children", "_count", "_version")


def parse(body: bytes, *, terminate_param: bool = False) -> Commit:
    if len(body) == 0:
        raise CommitFormatError("empty commit")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise CommitFormatError("the commit is not JSON") from None
    if not isinstance(payload, dict):
        raise CommitFormatError("the commit must be a JSON object")
    sequence = payload.pop("sequence", payload.pop("commitSequence", None))
    if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0):
        raise CommitFormatError("sequence must be a non-negative integer")
    terminate = terminate_param
    for marker in ("terminate", "isFinal", "final"):
        flag = payload.pop(marker, None)
        if flag is not None:
            if not isinstance(flag, bool):
                raise CommitFormatError(f"{marker} must be true or false")
            terminate = terminate or flag
    extra = {k: payload.pop(k) for k in ("successStatus", "completionStatus", "totalTimeSeconds", "score", "courseId",
                                         "scoId", "learnerId", "learnerName", "sessionId", "activityId", "attemptNumber")
             if k in payload}
    if "data" in payload and isinstance(payload["data"], dict):
        source: Any = payload.pop("data")
    elif "runtimeData" in payload:
        source = payload.pop("runtimeData")
    else:
        source = payload
        payload = {}
    if not isinstance(source, dict):
        raise CommitFormatError("the commit data must be a JSON object")
    flat: dict[str, str] = {}
    for key, value in source.items():
        if not isinstance(key, str):
            raise CommitFormatError("bad key")
        if key.startswith(("cmi.", "adl.")):
            text = _scalar(value, key) if not isinstance(value, (dict, list)) else None
            if isinstance(value, (dict, list)):
                _flatten(key, value, flat)
            elif text is not None:
                flat[key] = text
        elif key in ("cmi", "adl"):
            _flatten(key, value, flat)
        else:
            raise CommitFormatError(f"unknown top-level field {key[:60]!r}")
    flat = {k: v for k, v in flat.items() if not _is_keyword(k)}
    return Commit(data=flat, sequence=sequence, terminate=terminate, extra=extra)
