"""SCORM run-time data model: SCORM 1.2 (RTE 1.2, ``cmi._version`` "3.4") and SCORM 2004 4th Edition
(RTE book, ``cmi._version`` "1.0"), as ONE declarative table per version with two interpreters.

The tables (``_RULES["1.2"]``, ``_RULES["2004"]``) are plain data. This module interprets them
(:func:`get_value`, :func:`set_value`, :func:`validate_commit`), and :func:`export_rules` hands the
very same data to the JavaScript player, which answers ``LMSGetValue``/``GetValue`` and
``LMSSetValue``/``SetValue`` synchronously with it; the server re-validates every commit with
:func:`validate_commit`. Everything is pure (no I/O).

CMI data is a flat ``dict[str, str]`` of concrete dotted element names to values
(``{"cmi.core.lesson_status": "incomplete", "cmi.interactions.0.id": "q1"}``). Array indices are
stored in canonical decimal (no leading zeros). ``_count``/``_children``/``_version`` are never
stored. An element that was never set is absent.

Exported rules (the JSON format, normative for the JavaScript interpreter)
=========================================================================

.. the text between the markers below is also exported verbatim as ``rules["format"]``

FORMAT-BEGIN
export_rules(version) returns a JSON object:

  format        this text.
  version       "1.2" or "2004".
  errors        {"<code>": "<GetErrorString text>"} - every error code of the version ("0" too).
  codes         {"<violation>": <error code>} - which code each violation below reports:
                  empty_get / empty_set   GetValue / SetValue with "" as the element
                  undefined               the element is not part of the data model
                  keyword_set             SetValue on x._children, x._count or x._version (x known)
                  no_children             GetValue x._children, x known but has no _children
                  no_count                GetValue x._count, x known but is not an array
                  read_only / write_only  SetValue on "ro" / GetValue on "wo" elements
                  not_initialized         GetValue of an unset element without "default"
                                          (2004 only; 1.2 has none: unset elements read as "")
                  get_out_of_range        GetValue with an index >= the array's current count
                  set_out_of_order        SetValue with an index > the array's current count
                  count_limit             SetValue appending beyond an array's "max"
                  dependency              a "requires" element is not set (2004: 408)
                  type                    regex / vocab / items check failed
                  length                  the value is longer than "max_length"
                  range                   the number is outside "min".."max"
                  unique / write_once     see "unique" and "write_once" below
                  removed                 (validate_commit only) a stored element is missing
  elements      {"<normalized name>": spec}. A normalized name replaces every array index segment
                of a concrete name by "n": "cmi.interactions.3.objectives.0.id" ->
                "cmi.interactions.n.objectives.n.id" with indices [3, 0]. spec fields:
                  access        "ro" | "rw" | "wo"
                  type          name of an entry of "types" (absent when "value" is given)
                  value         a constant answer (cmi._version); never stored
                  default       the GetValue answer while unset (2004); without it an unset
                                element answers code "not_initialized" (2004) or "" (1.2)
                  requires      [normalized names]: each must be set (same indices substituted,
                                prefix-wise: "cmi.interactions.n.id" for "...n.objectives.n.id"
                                uses the first index) before SetValue, else code "dependency"
                  typed_by      normalized name of the element whose value selects the type:
                  types_by_value  {"<value of typed_by>": "<type name>"}; when typed_by is unset
                                  "fallback_type" is used (1.2), or "requires" already failed (2004)
                  unique        true: the value must differ from the same element of every other
                                record of the innermost array (code "unique"). When
                                "unique_if_typed" is present, only while the typed_by value is one of
                                its entries.
                  write_once    true: once set, only the identical value may be set again
                  recheck       [normalized names] (on cmi.interactions.n.type): SetValue of this
                                element must re-check, with the NEW value as typed_by, every stored
                                sibling (same indices) of the listed elements (type check, the
                                array's max_by_type and unique_if_typed); failure -> code "type"
                  evaluate      {"threshold", "measure", "reached", "not_reached", "unmeasured"}
                                (2004 completion_status / success_status, RTE 4th ed.): when the
                                threshold element is stored, GetValue does not answer the stored
                                value but: "unmeasured" if the measure element is unset, else
                                "reached" if Number(measure) >= Number(threshold), else
                                "not_reached". SetValue is unaffected.
                  note          free text for humans
  parametric    {"<prefix>": {"param": regex, "spec": spec}} (2004 adl.nav.request_valid.choice and
                .jump): an element "<prefix>.<X>" where X matches param is that spec; the concrete
                name is stored/looked up as is.
  arrays        {"<normalized array path>": {"max": int, "max_by_type"?: {"typed_by": name,
                "limits": {"<type value>": int}}, "fixed"?: true}}. Array paths:
                "cmi.interactions", "cmi.interactions.n.objectives", ... "fixed": records are
                created by the LMS only (adl.data): SetValue with idx >= count -> set_out_of_order.
  children      {"<normalized path>": "a,b,c"} - the answers of GetValue("<path>._children").
  types         {"<type name>": type}; a value is checked in this order (first failure wins):
                  vocab       [strings]: the value must be one of them       -> "type"
                  regex       the value must match (see REGEX below)         -> "type"
                  max_length  count characters as Unicode code points (JavaScript:
                              Array.from(value).length, NOT value.length), after removing the
                              match of "length_strip" (a regex anchored at ^) when given -> "length"
                  min / max   numbers, inclusive, compared as IEEE doubles (JS Number(value),
                              Python float(value)); checked only for a non-empty value that
                              passed the regex                                -> "range"
                  items       {"prefix"?: regex, "split": "<literal>", "unique"?: true,
                               "range"?: regex}: remove the match of "prefix" (anchored at ^),
                              split the rest on the literal "split" string (JS String.split);
                              unique: all parts pairwise distinct; range: for every part that
                              matches "range" with both capture groups non-empty,
                              Number(group1) <= Number(group2)                -> "type"
  stored_key    Concrete keys use canonical indices: an index segment is /^[0-9]+$/ and is read as
                a decimal integer (leading zeros allowed in requests: "01" is index 1); stored keys
                print it without leading zeros.

ALGORITHM (identical in Python and JavaScript):
  resolve(element): "" -> empty_get/empty_set. A "parametric" prefix match -> its spec. Otherwise
    split on "."; a segment matching /^[0-9]+$/ becomes "n" (index recorded); a literal segment
    "n" makes the element undefined. If the last segment is "_children", "_count" or "_version"
    it is a keyword request on the parent path, else the normalized name must be in "elements"
    (a known container/array/record path used as an element is "undefined" too).
  count(P) of a concrete array path P = number of distinct indices k with a stored key starting
    with P + "." + k + ".". Records are contiguous, so indices are 0..count-1.
  GetValue: keyword: _children -> children[parent] if present, else no_children when the parent
    is a known path, else undefined; _count -> count(concrete parent) when the parent is an
    array, else no_count/undefined; x._version is no_children/undefined (only the element
    cmi._version exists). Every index (outer first) must be < count of its array
    (get_out_of_range), also for the record of a "_count"/"_children" request. Leaf: "wo" or
    in HIDDEN -> write_only; "value" -> it; "evaluate" (above); stored -> it; "default" -> it;
    else not_initialized (2004) or "" with code 0 (1.2).
  SetValue: keyword with known parent, or an element with "value" -> keyword_set; not a leaf
    -> undefined; "ro" or in LOCKED -> read_only; for every index (outer first): idx > count,
    or idx >= count in a "fixed" array -> set_out_of_order; idx == count and count >= max (or
    max_by_type[value of typed_by]) -> count_limit; then "requires" -> dependency; then the
    type checks (type/length/range); then write_once; then unique; then recheck; then store.
    Nothing is stored when any check fails. Values are always strings.
  HIDDEN / LOCKED: per-session lists of concrete names the server sends with the launch data
    (shared data buckets: readSharedData=false -> HIDDEN, writeSharedData=false -> LOCKED).

REGEX: every regex is written for both engines: anchored with ^...$, compiled in JavaScript with
  new RegExp(p) and NO flags (in particular not "u"), matched in Python with re.fullmatch (so
  JavaScript's RegExp.prototype.test gives the same verdict); no lookbehind, no named groups, no
  possessive quantifiers, no inline flags, no \\A \\Z \\d \\w \\b, \\s/\\S only inside the class [\\s\\S]
  ("any character", identical in both); "." is never used; character ranges use \\uXXXX escapes
  and never include the surrogate range, so characters outside the BMP (two UTF-16 units in
  JavaScript, one code point in Python) are refused by both wherever a class would have to
  accept them. Lookaheads (?= ) and (?! ) are used (ECMAScript 3). No unicode flag is needed.
FORMAT-END

Decisions (deliberate, documented deviations and interpretations)
=================================================================

* suspend_data: 64,000 characters in BOTH versions (SCORM 1.2 says CMIString4096; real 1.2
  content exceeds it). 64,001 characters are refused (1.2: 405, 2004: 406). More generally a value
  longer than an element's SPM is refused with the type-mismatch code: the SPM is what the LMS
  stores, and refusing is better than silently truncating.
* Composite 2004 interaction values (choice, matching, performance, sequencing, fill-in) are limited
  by total length = the spec's item count x item SPM (e.g. choice 36 x 250 + separators = 9,105),
  not by per-item SPMs, exactly the largest values ADL's conformance suite stores.
* Language tags (language_type, {lang=..}) are checked syntactically (RFC 3066 grammar), not against
  frozen ISO 639/3166 lists: tags such as "cnr" (Montenegrin, 2017) and "sr-Latn" must work here.
  ADL's 4th-edition suite refuses e.g. "{lang=frl}"; this module accepts it.
* SCORM 1.2 CMIFeedback (student_response, correct_responses.n.pattern) follows the per-type
  structure of RTE 1.2 (true-false 0/1/t/f, comma lists, "." pairs, decimals) but allows identifier
  tokens instead of single characters, "true"/"false" and T/F for true-false, and 4,096 characters
  instead of 255 (authoring tools send longer answers). Without a type, only the length is checked.
* SCORM 1.2 score raw/min/max and mastery_score are limited to 0..100 (as ADL's 1.2 test suite does);
  CMITimespan accepts minutes/seconds 00-99 (carried over) because content rounds 59.996 s to "60".
* Array capacities (above the SPMs): interactions 500, objectives 250, comments 250,
  interaction objectives 50, correct responses 50 (1 for true-false, likert, numeric, other).
* Changing cmi.interactions.n.type is refused when stored responses/patterns of that interaction
  would not be valid for the new type, so a snapshot built by accepted SetValue calls always
  passes validate_commit (the server and the player never disagree).
* A duplicate correct response pattern is refused (351) for choice and sequencing only, as ADL does.
* 2004 timestamps: years 1970-2038, real calendar dates, 1-2 fraction digits, zone only after a
  fraction (the RTE format). 2004 durations: no weeks, fractions only on seconds (any number of
  digits, truncated to centiseconds for arithmetic), years = 365 days and months = 30 days.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from app.scorm import timeutil

__all__ = [
    "ERROR_STRINGS",
    "VERSIONS",
    "ScormError",
    "export_rules",
    "get_value",
    "initial_cmi",
    "set_value",
    "validate_commit",
]

VERSIONS = ("1.2", "2004")

ERROR_STRINGS: dict[str, dict[int, str]] = {
    "1.2": {
        0: "No error",
        101: "General exception",
        201: "Invalid argument error",
        202: "Element cannot have children",
        203: "Element not an array - cannot have count",
        301: "Not initialized",
        401: "Not implemented error",
        402: "Invalid set value, element is a keyword",
        403: "Element is read only",
        404: "Element is write only",
        405: "Incorrect data type",
    },
    "2004": {
        0: "No Error",
        101: "General Exception",
        102: "General Initialization Failure",
        103: "Already Initialized",
        104: "Content Instance Terminated",
        111: "General Termination Failure",
        112: "Termination Before Initialization",
        113: "Termination After Termination",
        122: "Retrieve Data Before Initialization",
        123: "Retrieve Data After Termination",
        132: "Store Data Before Initialization",
        133: "Store Data After Termination",
        142: "Commit Before Initialization",
        143: "Commit After Termination",
        201: "General Argument Error",
        301: "General Get Failure",
        351: "General Set Failure",
        391: "General Commit Failure",
        401: "Undefined Data Model Element",
        402: "Unimplemented Data Model Element",
        403: "Data Model Element Value Not Initialized",
        404: "Data Model Element Is Read Only",
        405: "Data Model Element Is Write Only",
        406: "Data Model Element Type Mismatch",
        407: "Data Model Element Value Out Of Range",
        408: "Data Model Dependency Not Established",
    },
}

_CODES = {
    "1.2": {
        "empty_get": 201, "empty_set": 201, "undefined": 201, "keyword_set": 402,
        "no_children": 202, "no_count": 203, "read_only": 403, "write_only": 404,
        "not_initialized": 0, "get_out_of_range": 201, "set_out_of_order": 201, "count_limit": 201,
        "dependency": 201, "type": 405, "length": 405, "range": 405, "unique": 405,
        "write_once": 405, "removed": 101,
    },
    "2004": {
        "empty_get": 301, "empty_set": 351, "undefined": 401, "keyword_set": 404,
        "no_children": 301, "no_count": 301, "read_only": 404, "write_only": 405,
        "not_initialized": 403, "get_out_of_range": 301, "set_out_of_order": 351, "count_limit": 351,
        "dependency": 408, "type": 406, "length": 406, "range": 407, "unique": 351,
        "write_once": 351, "removed": 351,
    },
}


class ScormError(Exception):
    """A data model error: ``code`` is the SCORM error code, ``element`` the element concerned."""

    def __init__(self, code: int, message: str, element: str | None = None):
        super().__init__(f"{code} {message}" + (f" ({element})" if element else ""))
        self.code = code
        self.message = message
        self.element = element


# --------------------------------------------------------------------------------------------
# Regex building blocks (common subset of Python re and ECMAScript RegExp without flags)
# --------------------------------------------------------------------------------------------

#: A decimal number: optional "-", digits with an optional fraction, or a bare fraction (".5").
#: No exponent, no "+", no trailing "." ("1e3", "+1", "5." are refused).
DEC = r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
#: One character of a URI-like identifier (RFC 3986 characters plus non-ASCII BMP characters, no
#: space, no control, none of "<>[]\\^`{|}), or a percent-escape.
IDC = r"(?:[!#$&-;=?-Z_a-z~\u00A1-\uD7FF\uE000-\uFFFD]|%[0-9A-Fa-f]{2})"
#: An identifier (short_identifier_type / long_identifier_type, URI syntax): a URN must be
#: urn:<NID>:<NSS>; "scheme:" with nothing after it and a leading ":" are refused.
IDENT = (
    r"(?:[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{0,31}:" + IDC + r"+"
    r"|(?![uU][rR][nN]:)(?![A-Za-z][A-Za-z0-9+.-]*:$)(?!:)" + IDC + r"+)"
)
#: language_type (RFC 3066 grammar: 1-8 letters, then "-" subtags of 1-8 letters or digits).
LANG = r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*"
#: Text that contains none of the SCORM reserved delimiters "[,]" (used inside lists).
TXT = r"(?:[^\[]|\[(?!,\]))*"
#: Text of at least one character with none of "[,]", "[.]" and "[:]".
TXT3 = r"(?:[^\[]|\[(?![,.:]\]))+"
LANG_STRIP = r"^\{lang=[^}]*\}"


def _list(item: str, sep: str = r"\[,\]") -> str:
    return f"{item}(?:{sep}{item})*"


# --------------------------------------------------------------------------------------------
# SCORM 1.2
# --------------------------------------------------------------------------------------------

_S12_STATUS = ["passed", "completed", "failed", "incomplete", "browsed"]
_S12_TF = r"^(?:[01tfTF]|true|false)$"
_S12_ITEM = r"[^,{}]+"
_S12_LIST = f"(?:{_list(_S12_ITEM, ',')})?"
_S12_PAIR = r"[^,{}.]+\.[^,{}.]+"
_S12_PAIRS = f"(?:{_list(_S12_PAIR, ',')})?"

_TYPES_12: dict[str, dict[str, Any]] = {
    "CMIString255": {"max_length": 255},
    "CMIString4096": {"max_length": 4096},
    "CMIString64000": {"max_length": 64000},
    "CMIIdentifier": {"regex": r"^[^\u0000-\u0020\u007F]+$", "max_length": 255},
    "CMIDecimal_0_100": {"regex": f"^{DEC}$", "min": 0, "max": 100},
    "CMIDecimalOrBlank_0_100": {"regex": f"^(?:{DEC})?$", "min": 0, "max": 100},
    "CMIDecimal": {"regex": f"^{DEC}$"},
    "CMISInteger_audio": {"regex": r"^-?[0-9]+$", "min": -1, "max": 100},
    "CMISInteger_speed": {"regex": r"^-?[0-9]+$", "min": -100, "max": 100},
    "CMISInteger_text": {"regex": r"^-?[0-9]+$", "min": -1, "max": 1},
    "CMITime": {"regex": timeutil.CMITIME_RE},
    "CMITimespan": {"regex": timeutil.CMITIMESPAN_RE},
    "credit": {"vocab": ["credit", "no-credit"]},
    "entry": {"vocab": ["ab-initio", "resume", ""]},
    "lesson_mode": {"vocab": ["browse", "normal", "review"]},
    "exit": {"vocab": ["time-out", "suspend", "logout", ""]},
    "lesson_status": {"vocab": _S12_STATUS},
    "objective_status": {"vocab": _S12_STATUS + ["not attempted"]},
    "time_limit_action": {
        "vocab": ["exit,message", "exit,no message", "continue,message", "continue,no message"],
    },
    "interaction_type": {
        "vocab": ["true-false", "choice", "fill-in", "matching", "performance", "sequencing", "likert",
                  "numeric"]
    },
    "interaction_result": {"regex": f"^(?:correct|wrong|unanticipated|neutral|{DEC})$"},
    # CMIFeedback: relaxed from CMIString255 to 4096 characters (see the module notes).
    "CMIFeedback": {"max_length": 4096},
    "feedback:true-false": {"regex": _S12_TF},
    "feedback:choice": {"regex": f"^(?:{_S12_LIST}|\\{{{_S12_LIST}\\}})$", "max_length": 4096},
    "feedback:fill-in": {"max_length": 4096},
    "feedback:numeric": {"regex": f"^(?:{DEC})?$"},
    "feedback:likert": {"regex": r"^[^,{}]*$", "max_length": 4096},
    "feedback:matching": {"regex": f"^(?:{_S12_PAIRS}|\\{{{_S12_PAIRS}\\}})$", "max_length": 4096},
    "feedback:performance": {"max_length": 4096},
    "feedback:sequencing": {"regex": f"^(?:{_S12_LIST}|\\{{{_S12_LIST}\\}})$", "max_length": 4096},
}

_FEEDBACK_12 = {
    t: f"feedback:{t}"
    for t in ["true-false", "choice", "fill-in", "numeric", "likert", "matching", "performance", "sequencing"]
}

_E12: dict[str, dict[str, Any]] = {
    "cmi._version": {"access": "ro", "value": "3.4"},
    "cmi.core.student_id": {"access": "ro", "type": "CMIIdentifier"},
    "cmi.core.student_name": {"access": "ro", "type": "CMIString255"},
    "cmi.core.lesson_location": {"access": "rw", "type": "CMIString255"},
    "cmi.core.credit": {"access": "ro", "type": "credit"},
    "cmi.core.lesson_status": {
        "access": "rw", "type": "lesson_status",
        "note": "the LMS initializes 'not attempted'; a SCO may not set it (405)",
    },
    "cmi.core.entry": {"access": "ro", "type": "entry"},
    "cmi.core.score.raw": {"access": "rw", "type": "CMIDecimalOrBlank_0_100"},
    "cmi.core.score.min": {"access": "rw", "type": "CMIDecimalOrBlank_0_100"},
    "cmi.core.score.max": {"access": "rw", "type": "CMIDecimalOrBlank_0_100"},
    "cmi.core.total_time": {"access": "ro", "type": "CMITimespan"},
    "cmi.core.lesson_mode": {"access": "ro", "type": "lesson_mode"},
    "cmi.core.exit": {"access": "wo", "type": "exit"},
    "cmi.core.session_time": {"access": "wo", "type": "CMITimespan"},
    "cmi.suspend_data": {
        "access": "rw", "type": "CMIString64000",
        "note": "CMIString4096 in SCORM 1.2, deliberately relaxed to 64,000 characters",
    },
    "cmi.launch_data": {"access": "ro", "type": "CMIString4096"},
    "cmi.comments": {"access": "rw", "type": "CMIString4096", "note": "each SetValue replaces the value"},
    "cmi.comments_from_lms": {"access": "ro", "type": "CMIString4096"},
    "cmi.objectives.n.id": {"access": "rw", "type": "CMIIdentifier"},
    "cmi.objectives.n.score.raw": {"access": "rw", "type": "CMIDecimalOrBlank_0_100"},
    "cmi.objectives.n.score.min": {"access": "rw", "type": "CMIDecimalOrBlank_0_100"},
    "cmi.objectives.n.score.max": {"access": "rw", "type": "CMIDecimalOrBlank_0_100"},
    "cmi.objectives.n.status": {"access": "rw", "type": "objective_status"},
    "cmi.student_data.mastery_score": {"access": "ro", "type": "CMIDecimal_0_100"},
    "cmi.student_data.max_time_allowed": {"access": "ro", "type": "CMITimespan"},
    "cmi.student_data.time_limit_action": {"access": "ro", "type": "time_limit_action"},
    "cmi.student_preference.audio": {"access": "rw", "type": "CMISInteger_audio"},
    "cmi.student_preference.language": {"access": "rw", "type": "CMIString255"},
    "cmi.student_preference.speed": {"access": "rw", "type": "CMISInteger_speed"},
    "cmi.student_preference.text": {"access": "rw", "type": "CMISInteger_text"},
    "cmi.interactions.n.id": {"access": "wo", "type": "CMIIdentifier"},
    "cmi.interactions.n.objectives.n.id": {"access": "wo", "type": "CMIIdentifier"},
    "cmi.interactions.n.time": {"access": "wo", "type": "CMITime"},
    "cmi.interactions.n.type": {
        "access": "wo", "type": "interaction_type",
        "recheck": ["cmi.interactions.n.student_response", "cmi.interactions.n.correct_responses.n.pattern"],
    },
    "cmi.interactions.n.correct_responses.n.pattern": {
        "access": "wo", "typed_by": "cmi.interactions.n.type", "types_by_value": _FEEDBACK_12,
        "fallback_type": "CMIFeedback",
    },
    "cmi.interactions.n.weighting": {"access": "wo", "type": "CMIDecimal"},
    "cmi.interactions.n.student_response": {
        "access": "wo", "typed_by": "cmi.interactions.n.type", "types_by_value": _FEEDBACK_12,
        "fallback_type": "CMIFeedback",
    },
    "cmi.interactions.n.result": {"access": "wo", "type": "interaction_result"},
    "cmi.interactions.n.latency": {"access": "wo", "type": "CMITimespan"},
}

_ARRAYS_12 = {
    "cmi.objectives": {"max": 250},
    "cmi.interactions": {"max": 500},
    "cmi.interactions.n.objectives": {"max": 50},
    "cmi.interactions.n.correct_responses": {"max": 50},
}

_CHILDREN_12 = {
    "cmi.core": "student_id,student_name,lesson_location,credit,lesson_status,entry,score,total_time,"
    "lesson_mode,exit,session_time",
    "cmi.core.score": "raw,min,max",
    "cmi.objectives": "id,score,status",
    "cmi.objectives.n.score": "raw,min,max",
    "cmi.student_data": "mastery_score,max_time_allowed,time_limit_action",
    "cmi.student_preference": "audio,language,speed,text",
    "cmi.interactions": "id,objectives,time,type,correct_responses,weighting,student_response,result,latency",
}

# --------------------------------------------------------------------------------------------
# SCORM 2004 4th Edition
# --------------------------------------------------------------------------------------------

_LOCALIZED = r"^(?:\{lang=" + LANG + r"\})?(?!\{lang=)[\s\S]*$"
_FILL_ITEM = r"(?:\{lang=" + LANG + r"\})?(?!\{lang=)" + TXT
_FILL_PREFIX = (
    r"(?:\{(?:case_matters|order_matters)=(?:true|false)\}"
    r"|\{lang=" + LANG + r"\}(?=\{(?:case_matters|order_matters)=))*"
)
_LONG_PREFIX = r"(?:\{case_matters=(?:true|false)\}|\{lang=" + LANG + r"\})*"
_PERF_ANSWER = f"(?:(?:{DEC})?\\[:\\](?:{DEC})?|{TXT3})"
_PERF_RECORD = f"(?:{IDC}+\\[\\.\\](?:{_PERF_ANSWER})?|\\[\\.\\]{_PERF_ANSWER})"
_PAIR = IDC + r"+\[\.\]" + IDC + "+"
_PERF_RANGE = f"^[^\\[]*\\[\\.\\]({DEC})?\\[:\\]({DEC})?$"
_CHOICE_MAX = 36 * 250 + 35 * 3  # 36 short identifiers of SPM 250
_MATCH_MAX = 36 * (250 + 3 + 250) + 35 * 3
_PERF_LR_MAX = 250 * (250 + 3 + 250) + 249 * 3
_PERF_PATTERN_MAX = 125 * (250 + 3 + 250) + 124 * 3

_TYPES_2004: dict[str, dict[str, Any]] = {
    "characterstring_250": {"max_length": 250},
    "characterstring_1000": {"max_length": 1000},
    "characterstring_4000": {"max_length": 4000},
    "characterstring_64000": {"max_length": 64000},
    "localized_string_250": {"regex": _LOCALIZED, "max_length": 250, "length_strip": LANG_STRIP},
    "localized_string_4000": {"regex": _LOCALIZED, "max_length": 4000, "length_strip": LANG_STRIP},
    "language_type": {"regex": f"^(?:{LANG})?$", "max_length": 250},
    "long_identifier_type": {"regex": f"^{IDENT}$", "max_length": 4000},
    "real": {"regex": f"^{DEC}$"},
    "real_scaled": {"regex": f"^{DEC}$", "min": -1, "max": 1},
    "real_0_1": {"regex": f"^{DEC}$", "min": 0, "max": 1},
    "real_non_negative": {"regex": f"^{DEC}$", "min": 0},
    "time": {"regex": timeutil.ISO_TIMESTAMP_RE},
    "timeinterval": {"regex": timeutil.ISO_DURATION_RE},
    "completion_status": {"vocab": ["completed", "incomplete", "not attempted", "unknown"]},
    "success_status": {"vocab": ["passed", "failed", "unknown"]},
    "credit": {"vocab": ["credit", "no-credit"]},
    "entry": {"vocab": ["ab-initio", "resume", ""]},
    "exit": {"vocab": ["time-out", "suspend", "logout", "normal", ""]},
    "mode": {"vocab": ["browse", "normal", "review"]},
    "time_limit_action": {
        "vocab": ["exit,message", "continue,message", "exit,no message", "continue,no message"],
    },
    "audio_captioning": {"vocab": ["-1", "0", "1"]},
    "interaction_type": {
        "vocab": ["true-false", "choice", "fill-in", "long-fill-in", "matching", "performance", "sequencing",
                  "likert", "numeric", "other"]
    },
    "interaction_result": {"regex": f"^(?:correct|incorrect|unanticipated|neutral|{DEC})$"},
    "nav_request": {
        "regex": r"^(?:continue|previous|exit|exitAll|abandon|abandonAll|suspendAll|_none_"
        r"|\{target=" + IDC + r"+\}(?:choice|jump))$"
    },
    "nav_valid": {"vocab": ["true", "false", "unknown"]},
    # learner_response formats by interaction type (RTE 4th ed. table 4.2.9.2a)
    "response:true-false": {"vocab": ["true", "false"]},
    "response:choice": {"regex": f"^(?:{_list(IDC + '+')})?$", "max_length": _CHOICE_MAX,
                        "items": {"split": "[,]", "unique": True}},
    "response:fill-in": {"regex": f"^{_list(_FILL_ITEM)}$", "max_length": 4000},
    "response:long-fill-in": {"regex": _LOCALIZED, "max_length": 4000, "length_strip": LANG_STRIP},
    "response:likert": {"regex": f"^{IDENT}$", "max_length": 250},
    "response:matching": {"regex": "^(?:" + _list(_PAIR) + ")?$", "max_length": _MATCH_MAX},
    "response:performance": {"regex": f"^{_list(_PERF_RECORD)}$", "max_length": _PERF_LR_MAX,
                             "items": {"split": "[,]", "range": _PERF_RANGE}},
    "response:sequencing": {"regex": f"^{_list(IDC + '+')}$", "max_length": _CHOICE_MAX},
    "response:numeric": {"regex": f"^{DEC}$"},
    "response:other": {"max_length": 4000},
    # correct_responses.n.pattern formats by interaction type (table 4.2.9.1a)
    "pattern:true-false": {"vocab": ["true", "false"]},
    "pattern:choice": {"regex": f"^(?:{_list(IDC + '+')})?$", "max_length": _CHOICE_MAX,
                       "items": {"split": "[,]", "unique": True}},
    "pattern:fill-in": {
        "regex": f"^{_FILL_PREFIX}(?!\\{{(?:case_matters|order_matters)=){_list(_FILL_ITEM)}$",
        "max_length": 4000,
    },
    "pattern:long-fill-in": {
        "regex": f"^{_LONG_PREFIX}(?!\\{{(?:lang|case_matters)=)[\\s\\S]*$", "max_length": 4000,
        "length_strip": r"^(?:\{(?:case_matters|lang)=[^}]*\})*",
    },
    "pattern:likert": {"regex": f"^{IDENT}$", "max_length": 250},
    "pattern:matching": {"regex": "^" + _list(_PAIR) + "$", "max_length": _MATCH_MAX},
    "pattern:performance": {
        "regex": f"^(?:\\{{order_matters=(?:true|false)\\}})?{_list(_PERF_RECORD)}$",
        "max_length": _PERF_PATTERN_MAX, "length_strip": r"^\{order_matters=[^}]*\}",
        "items": {"prefix": r"^\{order_matters=(?:true|false)\}", "split": "[,]", "range": _PERF_RANGE},
    },
    "pattern:sequencing": {"regex": f"^{_list(IDC + '+')}$", "max_length": _CHOICE_MAX},
    "pattern:numeric": {"regex": f"^(?:{DEC}|(?:{DEC})?\\[:\\](?:{DEC})?)$",
                        "items": {"split": "[,]", "range": f"^({DEC})?\\[:\\]({DEC})?$"}},
    "pattern:other": {"max_length": 4000},
}

_ITYPES_2004 = ["true-false", "choice", "fill-in", "long-fill-in", "likert", "matching", "performance",
                "sequencing", "numeric", "other"]
_I_ID = "cmi.interactions.n.id"
_I_TYPE = "cmi.interactions.n.type"
_O_ID = "cmi.objectives.n.id"

_E2004: dict[str, dict[str, Any]] = {
    "cmi._version": {"access": "ro", "value": "1.0"},
    "cmi.comments_from_learner.n.comment": {"access": "rw", "type": "localized_string_4000"},
    "cmi.comments_from_learner.n.location": {"access": "rw", "type": "characterstring_250"},
    "cmi.comments_from_learner.n.timestamp": {"access": "rw", "type": "time"},
    "cmi.comments_from_lms.n.comment": {"access": "ro", "type": "localized_string_4000"},
    "cmi.comments_from_lms.n.location": {"access": "ro", "type": "characterstring_250"},
    "cmi.comments_from_lms.n.timestamp": {"access": "ro", "type": "time"},
    "cmi.completion_status": {
        "access": "rw", "type": "completion_status", "default": "unknown",
        "evaluate": {"threshold": "cmi.completion_threshold", "measure": "cmi.progress_measure",
                     "reached": "completed", "not_reached": "incomplete", "unmeasured": "unknown"},
    },
    "cmi.completion_threshold": {"access": "ro", "type": "real_0_1"},
    "cmi.credit": {"access": "ro", "type": "credit", "default": "credit"},
    "cmi.entry": {"access": "ro", "type": "entry", "default": "ab-initio"},
    "cmi.exit": {"access": "wo", "type": "exit"},
    "cmi.interactions.n.id": {"access": "rw", "type": "long_identifier_type"},
    "cmi.interactions.n.type": {
        "access": "rw", "type": "interaction_type", "requires": [_I_ID],
        "recheck": ["cmi.interactions.n.learner_response", "cmi.interactions.n.correct_responses.n.pattern"],
    },
    "cmi.interactions.n.objectives.n.id": {
        "access": "rw", "type": "long_identifier_type", "requires": [_I_ID], "unique": True,
    },
    "cmi.interactions.n.timestamp": {"access": "rw", "type": "time", "requires": [_I_ID]},
    "cmi.interactions.n.correct_responses.n.pattern": {
        "access": "rw", "requires": [_I_ID, _I_TYPE], "typed_by": _I_TYPE,
        "types_by_value": {t: f"pattern:{t}" for t in _ITYPES_2004},
        "unique": True, "unique_if_typed": ["choice", "sequencing"],
    },
    "cmi.interactions.n.weighting": {"access": "rw", "type": "real", "requires": [_I_ID]},
    "cmi.interactions.n.learner_response": {
        "access": "rw", "requires": [_I_ID, _I_TYPE], "typed_by": _I_TYPE,
        "types_by_value": {t: f"response:{t}" for t in _ITYPES_2004},
    },
    "cmi.interactions.n.result": {"access": "rw", "type": "interaction_result", "requires": [_I_ID]},
    "cmi.interactions.n.latency": {"access": "rw", "type": "timeinterval", "requires": [_I_ID]},
    "cmi.interactions.n.description": {"access": "rw", "type": "localized_string_250", "requires": [_I_ID]},
    "cmi.launch_data": {"access": "ro", "type": "characterstring_4000"},
    "cmi.learner_id": {"access": "ro", "type": "long_identifier_type"},
    "cmi.learner_name": {"access": "ro", "type": "localized_string_250", "default": ""},
    "cmi.learner_preference.audio_level": {"access": "rw", "type": "real_non_negative", "default": "1"},
    "cmi.learner_preference.language": {"access": "rw", "type": "language_type", "default": ""},
    "cmi.learner_preference.delivery_speed": {"access": "rw", "type": "real_non_negative", "default": "1"},
    "cmi.learner_preference.audio_captioning": {"access": "rw", "type": "audio_captioning", "default": "0"},
    "cmi.location": {"access": "rw", "type": "characterstring_1000"},
    "cmi.max_time_allowed": {"access": "ro", "type": "timeinterval"},
    "cmi.mode": {"access": "ro", "type": "mode", "default": "normal"},
    "cmi.objectives.n.id": {
        "access": "rw", "type": "long_identifier_type", "unique": True, "write_once": True,
    },
    "cmi.objectives.n.score.scaled": {"access": "rw", "type": "real_scaled", "requires": [_O_ID]},
    "cmi.objectives.n.score.raw": {"access": "rw", "type": "real", "requires": [_O_ID]},
    "cmi.objectives.n.score.min": {"access": "rw", "type": "real", "requires": [_O_ID]},
    "cmi.objectives.n.score.max": {"access": "rw", "type": "real", "requires": [_O_ID]},
    "cmi.objectives.n.success_status": {
        "access": "rw", "type": "success_status", "requires": [_O_ID], "default": "unknown",
    },
    "cmi.objectives.n.completion_status": {
        "access": "rw", "type": "completion_status", "requires": [_O_ID], "default": "unknown",
    },
    "cmi.objectives.n.progress_measure": {"access": "rw", "type": "real_0_1", "requires": [_O_ID]},
    "cmi.objectives.n.description": {"access": "rw", "type": "localized_string_250", "requires": [_O_ID]},
    "cmi.progress_measure": {"access": "rw", "type": "real_0_1"},
    "cmi.scaled_passing_score": {"access": "ro", "type": "real_scaled"},
    "cmi.score.scaled": {"access": "rw", "type": "real_scaled"},
    "cmi.score.raw": {"access": "rw", "type": "real"},
    "cmi.score.min": {"access": "rw", "type": "real"},
    "cmi.score.max": {"access": "rw", "type": "real"},
    "cmi.session_time": {"access": "wo", "type": "timeinterval"},
    "cmi.success_status": {
        "access": "rw", "type": "success_status", "default": "unknown",
        "evaluate": {"threshold": "cmi.scaled_passing_score", "measure": "cmi.score.scaled",
                     "reached": "passed", "not_reached": "failed", "unmeasured": "unknown"},
    },
    "cmi.suspend_data": {"access": "rw", "type": "characterstring_64000"},
    "cmi.time_limit_action": {"access": "ro", "type": "time_limit_action", "default": "continue,no message"},
    "cmi.total_time": {"access": "ro", "type": "timeinterval", "default": "PT0H0M0S"},
    "adl.nav.request": {"access": "rw", "type": "nav_request", "default": "_none_"},
    "adl.nav.request_valid.continue": {"access": "ro", "type": "nav_valid", "default": "unknown"},
    "adl.nav.request_valid.previous": {"access": "ro", "type": "nav_valid", "default": "unknown"},
    "adl.data.n.id": {"access": "ro", "type": "long_identifier_type"},
    "adl.data.n.store": {
        "access": "rw", "type": "characterstring_64000", "requires": ["adl.data.n.id"],
        "note": "shared data bucket; a bucket whose writeSharedData is false is passed as 'locked' "
                "(SetValue 404) and one whose readSharedData is false as 'hidden' (GetValue 405)",
    },
}

_PARAMETRIC_2004 = {
    prefix: {
        "param": r"^\{target=" + IDC + r"+\}$",
        "spec": {"access": "ro", "type": "nav_valid", "default": "unknown",
                 "note": "answered 'unknown' unless the LMS stored a value at launch"},
    }
    for prefix in ("adl.nav.request_valid.choice", "adl.nav.request_valid.jump")
}

_ARRAYS_2004 = {
    "cmi.comments_from_learner": {"max": 250},
    "cmi.comments_from_lms": {"max": 250},
    "cmi.interactions": {"max": 500},
    "cmi.interactions.n.objectives": {"max": 50},
    "cmi.interactions.n.correct_responses": {
        "max": 50,
        "max_by_type": {"typed_by": _I_TYPE,
                        "limits": {"true-false": 1, "likert": 1, "numeric": 1, "other": 1}},
    },
    "cmi.objectives": {"max": 250},
    "adl.data": {"max": 250, "fixed": True},
}

_CHILDREN_2004 = {
    "cmi.comments_from_learner": "comment,location,timestamp",
    "cmi.comments_from_lms": "comment,location,timestamp",
    "cmi.interactions": "id,type,objectives,timestamp,correct_responses,weighting,learner_response,result,"
    "latency,description",
    "cmi.learner_preference": "audio_level,language,delivery_speed,audio_captioning",
    "cmi.objectives": "id,score,success_status,completion_status,progress_measure,description",
    "cmi.objectives.n.score": "scaled,raw,min,max",
    "cmi.score": "scaled,raw,min,max",
    "adl.data": "id,store",
}


def _format_text() -> str:
    doc = __doc__ or ""
    return doc.split("FORMAT-BEGIN\n", 1)[1].split("FORMAT-END", 1)[0]


_RULES: dict[str, dict[str, Any]] = {
    "1.2": {
        "version": "1.2", "elements": _E12, "parametric": {}, "arrays": _ARRAYS_12,
        "children": _CHILDREN_12, "types": _TYPES_12,
    },
    "2004": {
        "version": "2004", "elements": _E2004, "parametric": _PARAMETRIC_2004, "arrays": _ARRAYS_2004,
        "children": _CHILDREN_2004, "types": _TYPES_2004,
    },
}


def export_rules(version: str) -> dict:
    """The JSON-serialisable rules of ``version`` ("1.2" or "2004"); see the module docstring."""
    r = _rules(version)
    return copy.deepcopy({
        "format": _format_text(),
        "version": version,
        "errors": {str(k): v for k, v in ERROR_STRINGS[version].items()},
        "codes": dict(_CODES[version]),
        "elements": r["elements"],
        "parametric": r["parametric"],
        "arrays": r["arrays"],
        "children": r["children"],
        "types": r["types"],
    })


# --------------------------------------------------------------------------------------------
# Interpreter
# --------------------------------------------------------------------------------------------


def _rules(version: str) -> dict[str, Any]:
    try:
        return _RULES[version]
    except KeyError:
        raise ValueError(f"unknown SCORM version {version!r} (expected '1.2' or '2004')") from None


@lru_cache(maxsize=None)
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=None)
def _known_paths(version: str) -> frozenset[str]:
    """Every normalized leaf name and every prefix of one (containers, arrays, records)."""
    r = _RULES[version]
    out: set[str] = set()
    for name in list(r["elements"]) + list(r["arrays"]) + list(r["children"]) + list(r["parametric"]):
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            out.add(".".join(parts[:i]))
    return frozenset(out)


def _fail(version: str, kind: str, message: str, element: str | None) -> ScormError:
    return ScormError(_CODES[version][kind], message, element)


class _Ref:
    """A resolved element reference."""

    __slots__ = ("norm", "indices", "key", "keyword", "spec")

    def __init__(self, norm: str, indices: list[int], key: str, keyword: str | None, spec: dict | None):
        self.norm = norm
        self.indices = indices
        self.key = key
        self.keyword = keyword
        self.spec = spec


def _resolve(version: str, element: str, op: str) -> _Ref:
    r = _rules(version)
    if not isinstance(element, str) or element == "":
        raise _fail(version, "empty_get" if op == "get" else "empty_set", "no element named", element or "")
    for prefix, p in r["parametric"].items():
        if element.startswith(prefix + "."):
            if _rx(p["param"]).fullmatch(element[len(prefix) + 1:]):
                return _Ref(prefix + ".{target=}", [], element, None, p["spec"])
            raise _fail(version, "undefined", "undefined data model element", element)
    norm_parts: list[str] = []
    key_parts: list[str] = []
    indices: list[int] = []
    for seg in element.split("."):
        if seg.isascii() and seg.isdigit():
            indices.append(int(seg))
            norm_parts.append("n")
            key_parts.append(str(int(seg)))
        elif seg == "n":
            raise _fail(version, "undefined", "undefined data model element", element)
        else:
            norm_parts.append(seg)
            key_parts.append(seg)
    norm = ".".join(norm_parts)
    key = ".".join(key_parts)
    last = norm_parts[-1]
    if last in ("_children", "_count", "_version") and norm != "cmi._version":
        return _Ref(".".join(norm_parts[:-1]), indices, ".".join(key_parts[:-1]), last, None)
    return _Ref(norm, indices, key, None, r["elements"].get(norm))


def _concrete(norm: str, indices: list[int]) -> str:
    """Substitute indices for the "n" segments of a normalized name (prefix-wise)."""
    out, i = [], 0
    for seg in norm.split("."):
        if seg == "n" and i < len(indices):
            out.append(str(indices[i]))
            i += 1
        else:
            out.append(seg)
    return ".".join(out)


def _array_levels(norm: str, indices: list[int]) -> list[tuple[str, str, int]]:
    """(normalized array path, concrete array path, index) for every index of a name, outer first."""
    parts = norm.split(".")
    levels, k = [], 0
    for i, seg in enumerate(parts):
        if seg == "n":
            arr_norm = ".".join(parts[:i])
            levels.append((arr_norm, _concrete(arr_norm, indices[:k]), indices[k]))
            k += 1
    return levels


def _count(cmi: Mapping[str, str], array: str) -> int:
    prefix = array + "."
    seen = set()
    for key in cmi:
        if key.startswith(prefix):
            head = key[len(prefix):].split(".", 1)[0]
            if head.isascii() and head.isdigit():
                seen.add(head)
    return len(seen)


def _check_type(version: str, tname: str, value: str, element: str) -> None:
    t = _rules(version)["types"][tname]
    if "vocab" in t and value not in t["vocab"]:
        raise _fail(version, "type", f"not one of the {tname} vocabulary", element)
    if "regex" in t and not _rx(t["regex"]).fullmatch(value):
        raise _fail(version, "type", f"not a valid {tname} value", element)
    if "max_length" in t:
        body = value
        if "length_strip" in t:
            m = _rx(t["length_strip"]).match(body)
            if m:
                body = body[m.end():]
        if len(body) > t["max_length"]:  # code points (JS: Array.from)
            raise _fail(version, "length", f"longer than {t['max_length']} characters", element)
    if ("min" in t or "max" in t) and value != "":
        x = float(value)
        if ("min" in t and x < t["min"]) or ("max" in t and x > t["max"]):
            raise _fail(version, "range", f"outside {t.get('min', '-inf')}..{t.get('max', 'inf')}", element)
    items = t.get("items")
    if items:
        body = value
        if "prefix" in items:
            m = _rx(items["prefix"]).match(body)
            if m:
                body = body[m.end():]
        parts = body.split(items["split"]) if items.get("split") else [body]
        if items.get("unique") and len(set(parts)) != len(parts):
            raise _fail(version, "type", "the same item appears twice", element)
        if "range" in items:
            rx = _rx(items["range"])
            for part in parts:
                m = rx.fullmatch(part)
                if m and m.group(1) and m.group(2) and float(m.group(1)) > float(m.group(2)):
                    raise _fail(version, "type", "a range minimum exceeds its maximum", element)


def _type_of(version: str, spec: dict, indices: list[int], cmi: Mapping[str, str],
             typed_value: str | None = None) -> str:
    if "typed_by" not in spec:
        return spec["type"]
    if typed_value is None:
        typed_value = cmi.get(_concrete(spec["typed_by"], indices))
    if typed_value is not None and typed_value in spec["types_by_value"]:
        return spec["types_by_value"][typed_value]
    return spec.get("fallback_type") or spec["types_by_value"][typed_value]  # type: ignore[index]


def _array_max(version: str, arr_norm: str, indices: list[int], cmi: Mapping[str, str],
               typed_value: str | None = None) -> int:
    a = _rules(version)["arrays"][arr_norm]
    by = a.get("max_by_type")
    if by:
        tv = typed_value if typed_value is not None else cmi.get(_concrete(by["typed_by"], indices))
        if tv in by["limits"]:
            return by["limits"][tv]
    return a["max"]


def _unique_applies(spec: dict, typed_value: str | None) -> bool:
    if not spec.get("unique"):
        return False
    only = spec.get("unique_if_typed")
    return only is None or typed_value in only


def _sibling_keys(ref_norm: str, indices: list[int], cmi: Mapping[str, str]) -> list[str]:
    """Keys of the same element in the other records of the innermost array."""
    levels = _array_levels(ref_norm, indices)
    _, arr, idx = levels[-1]
    return [_concrete(ref_norm, indices[:-1] + [j]) for j in range(_count(cmi, arr)) if j != idx]


def get_value(version: str, cmi: Mapping[str, str], element: str, *, hidden: Collection[str] = ()) -> str:
    """GetValue / LMSGetValue. Answers ``_count``, ``_children`` and ``_version``.

    ``hidden``: concrete element names this session may not read (shared data buckets whose
    readSharedData is false): answered as write-only. Raises :class:`ScormError`.
    """
    r = _rules(version)
    ref = _resolve(version, element, "get")
    known = _known_paths(version)
    if ref.keyword is not None:
        if ref.norm not in known:
            raise _fail(version, "undefined", "undefined data model element", element)
        for _, arr, idx in _array_levels(ref.norm, ref.indices):
            if idx >= _count(cmi, arr):
                raise _fail(version, "get_out_of_range", "index beyond the current count", element)
        if ref.keyword == "_children":
            if ref.norm in r["children"]:
                return r["children"][ref.norm]
            raise _fail(version, "no_children", "element has no _children", element)
        if ref.keyword == "_count":
            if ref.norm in r["arrays"]:
                return str(_count(cmi, ref.key))
            raise _fail(version, "no_count", "element is not an array", element)
        raise _fail(version, "no_children" if ref.norm in r["children"] else "undefined",
                    "_version is only defined for cmi", element)
    spec = ref.spec
    if spec is None:
        raise _fail(version, "undefined", "undefined data model element", element)
    if spec["access"] == "wo" or ref.key in hidden:
        raise _fail(version, "write_only", "element is write only", element)
    if "value" in spec:
        return spec["value"]
    for _, arr, idx in _array_levels(ref.norm, ref.indices):
        if idx >= _count(cmi, arr):
            raise _fail(version, "get_out_of_range", "index beyond the current count", element)
    ev = spec.get("evaluate")
    if ev and ev["threshold"] in cmi:
        if ev["measure"] not in cmi:
            return ev["unmeasured"]
        reached = float(cmi[ev["measure"]]) >= float(cmi[ev["threshold"]])
        return ev["reached"] if reached else ev["not_reached"]
    if ref.key in cmi:
        return cmi[ref.key]
    if "default" in spec:
        return spec["default"]
    if version == "2004":
        raise _fail(version, "not_initialized", "value not initialized", element)
    return ""


def set_value(version: str, cmi: dict[str, str], element: str, value: str, *,
              locked: Collection[str] = ()) -> None:
    """SetValue / LMSSetValue: validate and store ``value`` in ``cmi`` (mutated only on success).

    ``locked``: concrete element names this session may not write although they are "rw"
    (shared data buckets whose writeSharedData is false): refused as read-only.
    Raises :class:`ScormError` with the exact code of the version.
    """
    ref = _resolve(version, element, "set")
    if ref.keyword is not None:
        if ref.norm in _known_paths(version):
            raise _fail(version, "keyword_set", "element is a keyword", element)
        raise _fail(version, "undefined", "undefined data model element", element)
    spec = ref.spec
    if spec is None:
        raise _fail(version, "undefined", "undefined data model element", element)
    if "value" in spec:  # cmi._version
        raise _fail(version, "keyword_set", "element is a keyword", element)
    if spec["access"] == "ro" or ref.key in locked:
        raise _fail(version, "read_only", "element is read only", element)
    if not isinstance(value, str):
        raise _fail(version, "type", "values are character strings", element)
    _check_set(version, cmi, ref, value, element)
    cmi[ref.key] = value


def _check_set(version: str, cmi: Mapping[str, str], ref: _Ref, value: str, element: str) -> None:
    spec = ref.spec
    assert spec is not None
    for arr_norm, arr, idx in _array_levels(ref.norm, ref.indices):
        count = _count(cmi, arr)
        if idx > count or (idx == count and _rules(version)["arrays"][arr_norm].get("fixed")):
            raise _fail(version, "set_out_of_order", "index beyond the current count", element)
        if idx == count and count >= _array_max(version, arr_norm, ref.indices, cmi):
            raise _fail(version, "count_limit", "the array is full", element)
    for req in spec.get("requires", ()):
        if _concrete(req, ref.indices) not in cmi:
            raise _fail(version, "dependency", f"{_concrete(req, ref.indices)} is not set", element)
    typed_value = cmi.get(_concrete(spec["typed_by"], ref.indices)) if "typed_by" in spec else None
    _check_type(version, _type_of(version, spec, ref.indices, cmi), value, element)
    if spec.get("write_once") and ref.key in cmi and cmi[ref.key] != value:
        raise _fail(version, "write_once", "the identifier cannot be changed once set", element)
    if _unique_applies(spec, typed_value):
        if any(cmi.get(k) == value for k in _sibling_keys(ref.norm, ref.indices, cmi)):
            raise _fail(version, "unique", "the value is already used by another record", element)
    for target in spec.get("recheck", ()):
        _recheck(version, cmi, target, ref.indices, value, element)


def _recheck(version: str, cmi: Mapping[str, str], target: str, indices: list[int], new_type: str,
             element: str) -> None:
    """Stored siblings of ``target`` must stay valid when their typed_by element becomes new_type."""
    r = _rules(version)
    tspec = r["elements"][target]
    if target.split(".").count("n") > len(indices):  # an array below the record (correct_responses)
        arr_norm = target.rsplit(".n.", 1)[0]
        arr = _concrete(arr_norm, indices)
        n = _count(cmi, arr)
        if n > _array_max(version, arr_norm, indices, cmi, typed_value=new_type):
            raise _fail(version, "type", f"too many {arr_norm.rsplit('.', 1)[1]} for {new_type}", element)
        keys = [_concrete(target, indices + [j]) for j in range(n)]
    else:
        keys = [_concrete(target, indices)]
    values = [cmi[k] for k in keys if k in cmi]
    tname = _type_of(version, tspec, indices, cmi, typed_value=new_type)
    for v in values:
        _check_type(version, tname, v, element)
    if _unique_applies(tspec, new_type) and len(set(values)) != len(values):
        raise _fail(version, "type", f"duplicate {target.rsplit('.', 1)[1]} for {new_type}", element)


def validate_commit(version: str, before: Mapping[str, str], after: Mapping[str, str], *,
                    locked: Collection[str] = ()) -> dict[str, str]:
    """Server-side check of a complete snapshot ``after`` sent by the player, against ``before``.

    Every key must be a canonical, known, storable element; read-only (and ``locked``) elements
    must be unchanged (an omitted one is restored from ``before``); nothing stored before may be
    removed; every value must be valid; arrays contiguous and within their limits; dependencies,
    uniqueness and write-once identifiers respected. Returns the cleaned snapshot (a new dict);
    raises :class:`ScormError` naming the first offending element.
    """
    r = _rules(version)
    if not isinstance(after, Mapping):
        raise ScormError(_CODES[version]["type"], "the snapshot must be an object", None)
    out: dict[str, str] = {}
    refs: dict[str, _Ref] = {}
    for key, value in after.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise _fail(version, "type", "keys and values must be strings", str(key))
        try:
            ref = _resolve(version, key, "set")
        except ScormError:
            ref = None
        if ref is None or ref.keyword is not None or ref.spec is None or ref.key != key:
            raise _fail(version, "undefined", "not a storable data model element", key)
        spec = ref.spec
        if "value" in spec:
            if value != spec["value"]:
                raise _fail(version, "read_only", "element is read only", key)
            continue
        if spec["access"] == "ro" or key in locked:
            if before.get(key) != value:
                raise _fail(version, "read_only", "element is read only", key)
        out[key] = value
        refs[key] = ref
    for key, value in before.items():
        if key in out:
            continue
        try:
            bref = _resolve(version, key, "set")
        except ScormError:
            continue  # not an element (cannot have been stored by this module): dropped
        spec = bref.spec
        if bref.keyword is not None or spec is None or "value" in spec:
            continue
        if spec["access"] == "ro" or key in locked:
            out[key] = value
            refs[key] = bref
        else:
            raise _fail(version, "removed", "a stored element cannot be removed", key)
    # arrays: contiguous records within limits
    arrays: dict[str, tuple[str, list[int], set[int]]] = {}
    for key, ref in refs.items():
        for level, (arr_norm, arr, idx) in enumerate(_array_levels(ref.norm, ref.indices)):
            arrays.setdefault(arr, (arr_norm, ref.indices[:level], set()))[2].add(idx)
    for arr, (arr_norm, outer, seen) in sorted(arrays.items()):
        if r["arrays"][arr_norm].get("fixed") and len(seen) > _count(before, arr):
            raise _fail(version, "set_out_of_order", "records of this array come from the LMS",
                        f"{arr}.{_count(before, arr)}")
        if seen != set(range(len(seen))):
            missing = min(set(range(max(seen) + 1)) - seen)
            raise _fail(version, "set_out_of_order", "records are not contiguous", f"{arr}.{missing}")
        if len(seen) > _array_max(version, arr_norm, outer, out):
            raise _fail(version, "count_limit", "too many records", arr)
    for key, ref in refs.items():
        spec = ref.spec
        assert spec is not None
        unchanged = key in before and before[key] == out[key]
        if (spec["access"] == "ro" or key in locked) and unchanged:
            continue  # LMS-provided and unchanged
        for req in spec.get("requires", ()):
            if _concrete(req, ref.indices) not in out:
                raise _fail(version, "dependency", f"{_concrete(req, ref.indices)} is not set", key)
        if "typed_by" in spec and _concrete(spec["typed_by"], ref.indices) not in out \
                and not spec.get("fallback_type"):
            raise _fail(version, "dependency", "the interaction type is not set", key)
        if not unchanged:  # a stored value was checked when it was set (or set by the LMS: "not attempted")
            _check_type(version, _type_of(version, spec, ref.indices, out), out[key], key)
        if spec.get("write_once") and key in before and before[key] != out[key]:
            raise _fail(version, "write_once", "the identifier cannot be changed once set", key)
        typed_value = out.get(_concrete(spec["typed_by"], ref.indices)) if "typed_by" in spec else None
        if _unique_applies(spec, typed_value):
            earlier = _sibling_keys(ref.norm, ref.indices, out)[: ref.indices[-1]]
            if any(out.get(k) == out[key] for k in earlier):  # blame the later record
                raise _fail(version, "unique", "the value is already used by another record", key)
    return out


# --------------------------------------------------------------------------------------------
# Session start
# --------------------------------------------------------------------------------------------


def initial_cmi(
    version: str,
    *,
    learner_id: str,
    learner_name: str = "",
    entry: str = "ab-initio",
    credit: str = "credit",
    mode: str = "normal",
    launch_data: str | None = None,
    mastery_score: float | str | None = None,
    scaled_passing_score: float | str | None = None,
    completion_threshold: float | str | None = None,
    max_time_allowed: str | None = None,
    time_limit_action: str | None = None,
    total_time: str | int | None = None,
    suspend_data: str | None = None,
    location: str | None = None,
    previous: Mapping[str, str] | None = None,
    comments_from_lms: Any = None,
    shared_data: list[tuple[str, str | None]] | None = None,
    nav_request_valid: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The flat CMI dict a session starts with. Every keyword is optional except ``learner_id``.

    * ``learner_id``, ``learner_name``: cmi.core.student_id/student_name (1.2),
      cmi.learner_id/learner_name (2004; the name may carry a ``{lang=..}`` prefix).
    * ``entry``: "ab-initio" (new attempt), "resume" (suspended attempt resumed) or "".
    * ``credit``: "credit" / "no-credit". ``mode``: "normal" / "browse" / "review"
      (cmi.core.lesson_mode in 1.2, cmi.mode in 2004).
    * ``launch_data``: the manifest's adlcp:datafromlms / adlcp:dataFromLMS.
    * ``mastery_score`` (1.2 only, 0..100): adlcp:masteryscore -> cmi.student_data.mastery_score.
    * ``scaled_passing_score`` (2004, -1..1), ``completion_threshold`` (2004, 0..1).
    * ``max_time_allowed``: a duration in the version's format (1.2 "0000:30:00", 2004 "PT30M").
    * ``time_limit_action``: "exit,message" | "exit,no message" | "continue,message" |
      "continue,no message".
    * ``total_time``: the accumulated time, as a string in the version's format or as integer
      centiseconds (default zero: "0000:00:00" / "PT0H0M0S").
    * ``suspend_data``, ``location``: restored bookmark data (cmi.core.lesson_location in 1.2).
    * ``previous``: the stored snapshot of the attempt being resumed: every element the SCO can
      write (status, scores, objectives, interactions, comments, preferences, ...) is carried over;
      write-only and LMS-provided elements are recomputed from the other keywords.
    * ``comments_from_lms``: 1.2 a string (cmi.comments_from_lms); 2004 a list of
      ``{"comment", "location", "timestamp"}`` dicts (any of the three may be omitted).
    * ``shared_data`` (2004): ``[(bucket_id, stored_value_or_None), ...]`` -> adl.data.n.id/store.
    * ``nav_request_valid`` (2004): e.g. ``{"continue": "true", "choice.{target=intro}": "false"}``
      -> adl.nav.request_valid.*.

    1.2 starts cmi.core.lesson_status at "not attempted"; 2004 leaves completion_status and
    success_status unset (they read as "unknown"). Invalid inputs raise ValueError.
    """
    _rules(version)
    cmi: dict[str, str] = {}
    if previous:
        for key, value in previous.items():
            try:
                ref = _resolve(version, key, "set")
            except ScormError:
                continue
            spec = ref.spec
            if ref.keyword is None and spec is not None and spec["access"] == "rw" \
                    and not key.startswith("adl.data.") and key != "adl.nav.request":
                cmi[ref.key] = value

    def put(key: str, value: Any, *, fmt: str | None = None) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            raise ValueError(f"{key}: not a valid value")
        if isinstance(value, (int, float)) and fmt is None:
            value = _number(value)
        value = str(value)
        ref = _resolve(version, key, "set")
        assert ref.spec is not None, key
        try:
            _check_type(version, _type_of(version, ref.spec, ref.indices, cmi), value, key)
        except ScormError as exc:
            raise ValueError(f"{key}: {exc.message} ({value!r})") from None
        cmi[ref.key] = value

    if isinstance(total_time, int) and not isinstance(total_time, bool):
        fmt = timeutil.format_cmitimespan if version == "1.2" else timeutil.format_iso_duration
        total_time = fmt(total_time)
    if version == "1.2":
        put("cmi.core.student_id", learner_id)
        put("cmi.core.student_name", learner_name)
        put("cmi.core.credit", credit)
        put("cmi.core.entry", entry)
        put("cmi.core.lesson_mode", mode)
        if "cmi.core.lesson_status" not in cmi:
            cmi["cmi.core.lesson_status"] = "not attempted"
        put("cmi.core.total_time", total_time if total_time is not None else "0000:00:00")
        put("cmi.launch_data", launch_data)
        put("cmi.student_data.mastery_score", mastery_score)
        put("cmi.student_data.max_time_allowed", max_time_allowed)
        put("cmi.student_data.time_limit_action", time_limit_action)
        put("cmi.suspend_data", suspend_data)
        put("cmi.core.lesson_location", location)
        if comments_from_lms is not None:
            put("cmi.comments_from_lms", comments_from_lms)
        if scaled_passing_score is not None or completion_threshold is not None or shared_data \
                or nav_request_valid:
            raise ValueError("scaled_passing_score, completion_threshold, shared_data and nav_request_valid "
                             "are SCORM 2004 only")
    else:
        put("cmi.learner_id", learner_id)
        put("cmi.learner_name", learner_name)
        put("cmi.credit", credit)
        put("cmi.entry", entry)
        put("cmi.mode", mode)
        put("cmi.total_time", total_time if total_time is not None else "PT0H0M0S")
        put("cmi.launch_data", launch_data)
        put("cmi.scaled_passing_score", scaled_passing_score)
        put("cmi.completion_threshold", completion_threshold)
        put("cmi.max_time_allowed", max_time_allowed)
        put("cmi.time_limit_action", time_limit_action)
        put("cmi.suspend_data", suspend_data)
        put("cmi.location", location)
        if mastery_score is not None:
            raise ValueError("mastery_score is SCORM 1.2 only (use scaled_passing_score)")
        for i, c in enumerate(comments_from_lms or []):
            if not isinstance(c, Mapping) or not c:
                raise ValueError("comments_from_lms entries are non-empty mappings")
            for field in ("comment", "location", "timestamp"):
                put(f"cmi.comments_from_lms.{i}.{field}", c.get(field))
        for i, (bucket, stored) in enumerate(shared_data or []):
            put(f"adl.data.{i}.id", bucket)
            put(f"adl.data.{i}.store", stored)
        for name, value in (nav_request_valid or {}).items():
            key = f"adl.nav.request_valid.{name}"
            ref = _resolve(version, key, "get")
            if ref.spec is None or ref.keyword is not None:
                raise ValueError(f"{key}: not a request_valid element")
            put(key, value)
    return cmi


def _number(x: float | int) -> str:
    """A number as a SCORM decimal string without exponent: 0.8 -> "0.8", 80 -> "80"."""
    if isinstance(x, int):
        return str(x)
    text = format(x, ".10f").rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
