"""SCORM 1.2 / 2004 4th Edition run-time data model: types, access, arrays, dependencies, interaction
formats, commit validation, time arithmetic, and agreement between the Python validator and an
independent interpreter of the exported rules (in Python, and in JavaScript when node is present)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from app.scorm import timeutil
from app.scorm.datamodel import (
    ERROR_STRINGS,
    ScormError,
    export_rules,
    get_value,
    initial_cmi,
    set_value,
    validate_commit,
)

pytestmark = pytest.mark.db_independent


def code_of(fn, *args, **kwargs) -> int:
    try:
        fn(*args, **kwargs)
    except ScormError as exc:
        return exc.code
    return 0


def s12(**kw) -> dict[str, str]:
    return initial_cmi("1.2", learner_id="ana.petrovic", learner_name="Petrović, Ana", **kw)


def s2004(**kw) -> dict[str, str]:
    return initial_cmi("2004", learner_id="urn:rmtc:learner:42", learner_name="{lang=sr-Latn}Ana Petrović", **kw)


def with_interaction(version: str, itype: str | None = None) -> dict[str, str]:
    cmi = s12() if version == "1.2" else s2004()
    set_value(version, cmi, "cmi.interactions.0.id", "q1")
    if itype:
        set_value(version, cmi, "cmi.interactions.0.type", itype)
    return cmi


# ---------------------------------------------------------------------------------------------
# Sample values for every exported type: (valid, invalid). The invalid kind is derived by the
# mini-interpreter; the agreement test checks that set_value reports the same code.
# ---------------------------------------------------------------------------------------------

X = "x"
ID250 = "i" * 250
SAMPLES: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "1.2": {
        "CMIString255": (["", "Lekcija 3", X * 255, "ćčžšđ\n\t"], [X * 256]),
        "CMIString4096": (["", X * 4096], [X * 4097]),
        "CMIString64000": (["", X * 64000, "😀" * 64000], [X * 64001, "😀" * 64001]),
        "CMIIdentifier": (["q1", "Scene1_Slide3", "a.b-c", "пит1", X * 255],
                          ["", "has space", "tab\tx", X * 256, "q1\n"]),
        "CMIDecimal_0_100": (["0", "100", "85.5", ".5", "100.0"], ["", "-1", "100.01", "1e3", "abc", "5."]),
        "CMIDecimalOrBlank_0_100": (["", "0", "99.99", "100", "0.0"],
                                    ["-0.5", "101", "1e3", "+5", " 5", "5 ", "5\n", "1,5"]),
        "CMIDecimal": (["-1.5", "0", "12345.678", "-.25"], ["", "1e3", "--1", "1.2.3", "Infinity", "NaN"]),
        "CMISInteger_audio": (["-1", "0", "100", "55"], ["-2", "101", "1.5", "", "x"]),
        "CMISInteger_speed": (["-100", "0", "100"], ["-101", "101", "+1"]),
        "CMISInteger_text": (["-1", "0", "1"], ["2", "-2", "0.5"]),
        "CMITime": (["00:00:00", "23:59:59", "09:45:58.5", "12:00:00.25"],
                    ["24:00:00", "9:45:58", "12:60:00", "12:00:60", "12:00:00.123", "12:00"]),
        "CMITimespan": (["0000:01:02.5", "00:00:00", "9999:59:59.99", "12:34:56", "0000:75:00"],
                        ["1:2:3", "00:00", "00000:00:00", "00:00:00.", "00:00:00.123", "PT1M", "-01:00:00"]),
        "credit": (["credit", "no-credit"], ["", "Credit"]),
        "entry": (["ab-initio", "resume", ""], ["review"]),
        "lesson_mode": (["browse", "normal", "review"], [""]),
        "exit": (["time-out", "suspend", "logout", ""], ["normal", "Suspend"]),
        "lesson_status": (_12s := ["passed", "completed", "failed", "incomplete", "browsed"],
                          ["not attempted", "unknown", "", "Passed"]),
        "objective_status": (_12s + ["not attempted"], ["unknown", ""]),
        "time_limit_action": (["exit,message", "exit,no message", "continue,message", "continue,no message"],
                              ["exit", "continue, message"]),
        "interaction_type": (["true-false", "choice", "fill-in", "matching", "performance", "sequencing",
                              "likert", "numeric"], ["long-fill-in", "other", ""]),
        "interaction_result": (["correct", "wrong", "unanticipated", "neutral", "0.5", "-3"],
                               ["incorrect", "", "1e2"]),
        "CMIFeedback": (["", "anything at all", X * 4096], [X * 4097]),
        "feedback:true-false": (["0", "1", "t", "f", "T", "F", "true", "false"], ["", "yes", "tf", "2"]),
        "feedback:choice": (["a", "a,b,c", "{a,b}", "", "1,2", "choice_1"], ["a,,b", "a,", "{a,b", "a}"]),
        "feedback:fill-in": (["", "Beograd", "two words, comma"], [X * 4097]),
        "feedback:numeric": (["", "42", "-0.5"], ["4 2", "forty", "1e3"]),
        "feedback:likert": (["", "3", "a", "strongly_agree"], ["a,b", "{a}"]),
        "feedback:matching": (["1.a", "1.a,2.c,3.b", "{1.a,2.b}", ""], ["1a", "1.a,", "1.a.b", "1.a,2"]),
        "feedback:performance": (["", "free form [.] text"], [X * 4097]),
        "feedback:sequencing": (["a,b,c", "c", ""], ["a,,c", ",a"]),
    },
    "2004": {
        "characterstring_250": (["", X * 250, "😀" * 250], [X * 251, "😀" * 251]),
        "characterstring_1000": (["", X * 1000, "ćirilica ћирилица"], [X * 1001]),
        "characterstring_4000": (["", X * 4000], [X * 4001]),
        "characterstring_64000": (["", X * 64000], [X * 64001]),
        "localized_string_250": (["", "Tekst", "{lang=sr-Latn}Tekst", "{lang=en}" + X * 250, "{lang=mk}",
                                  "{lang=x-private}a", "{}{[]}"],
                                 ["{lang=}Tekst", "{lang=sr_Latn}T", X * 251, "{lang=en}" + X * 251,
                                  "{lang=toolongtag}a", "{lang=en}{lang=fr}a", "{lang=en"]),
        "localized_string_4000": (["{lang=de}" + X * 4000, ""], ["{lang=}", X * 4001]),
        "language_type": (["", "en", "sr-Latn", "sr-Latn-RS", "cnr", "zh-hant", "i-klingon", "x-foo"],
                          ["en_US", "-en", "en-", "toolongtag", "en-toolongsub", "e n", "en\n"]),
        "long_identifier_type": (["q1", "urn:adl:lmsTest/OBJ01", "uri.uri.uri.abcd", "http://x.rs/a?b=c#d",
                                  "%41", "пит-1", "i" * 4000],
                                 ["", "urn:", "urn:adl:lms Test/OBJ01", "urn:adl", "http:", ":x", "a b",
                                  "{x}", "a[b]", "%4", "i" * 4001, "😀"]),
        "real": (["7", "-7.0001", "0.12345", ".5", "-0"], ["", "invalid", "1e3", "34,000.00", "3.1.4", "+1"]),
        "real_scaled": (["-1", "1", "0", "-1.0", "0.999"], ["-1.01", "1.0000001", "-2", "x"]),
        "real_0_1": (["0", "1", "0.5"], ["-0.1", "1.1", "-1"]),
        "real_non_negative": (["0", "100", "999.5"], ["-1", "-0.001", "x"]),
        "time": (["2004", "2004-04", "2004-04-01", "2004-04-01T15", "2004-04-01T09:45", "2004-04-01T09:45:58",
                  "2004-04-01T09:45:58.2", "2004-04-01T09:45:58.55Z", "2004-04-01T09:45:58.55+02:30",
                  "2004-04-01T09:45:58.55-03", "1970", "2038", "2004-02-29", "2000-02-29"],
                 ["", "04", "2004-", "2004-4", "2004-04-1", "2004-04-01T", "2004-04-01T9", "2004-04-01T15Z",
                  "2004-04-01T09:45:58Z", "2004-04-01T09:45:58+02", "2004-04-01T09:45:58.025",
                  "2004-04-01T09:45:58.55+24", "1969", "2039", "2004-13", "2004-03-32", "2003-02-29",
                  "1900-02-29", "2004-04-31", "2004-06-30T24", "2004-06-30T14:60"]),
        "timeinterval": (["PT1H2M3.45S", "P1Y6M14DT4H15M6.34S", "P1Y", "PT0S", "PT15M", "P01Y06M", "PT6.345S",
                          "P14D", "P1Y6M14D"],
                         ["", "P", "PT", "P1Y6M14DT", "1Y", "P1Y6M14D4H", "PT1.5H", "P2W", "-PT1S", "PT1S ",
                          "pt1s"]),
        "completion_status": (["completed", "incomplete", "not attempted", "unknown"], ["", "passed"]),
        "success_status": (["passed", "failed", "unknown"], ["", "completed"]),
        "credit": (["credit", "no-credit"], ["x"]),
        "entry": (["ab-initio", "resume", ""], ["x"]),
        "exit": (["time-out", "suspend", "logout", "normal", ""], ["illegal_state", "Normal"]),
        "mode": (["browse", "normal", "review"], [""]),
        "time_limit_action": (["exit,message", "continue,no message"], ["x"]),
        "audio_captioning": (["-1", "0", "1"], ["", "2", "-1.0"]),
        "interaction_type": (["true-false", "choice", "fill-in", "long-fill-in", "matching", "performance",
                              "sequencing", "likert", "numeric", "other"], ["other-fill-in", "true", ""]),
        "interaction_result": (["correct", "incorrect", "unanticipated", "neutral", "-3500.043", "82.3960"],
                               ["wrong", "34,000.00", "", "invalid"]),
        "nav_request": (["continue", "previous", "exit", "exitAll", "abandon", "abandonAll", "suspendAll",
                         "_none_", "{target=intro}choice", "{target=m-2}jump"],
                        ["choice", "jump", "{target=}choice", "start", "Continue", "{target=a b}choice"]),
        "nav_valid": (["true", "false", "unknown"], ["yes"]),
        "response:true-false": (["true", "false"], ["true-false", "invalid", "", "True"]),
        "response:choice": (["", "z", "a[,]b", "uri.uri.uri.abcd[,]testuri", ",".join(["a"] * 3)],
                            ["[,]", "[,]a", "a[,]", "a[,]a", "{}{[]}{}", "a b", ID250 + "[,]" + X * 8855]),
        "response:fill-in": (["", " ", "{lang=en}", "[,]", "uri.uri.uri[.]abcd[,]testuri", "{}{[]}{}{[]}{}",
                              "{lang=fr}This should pass", "a[,]{lang=sr}b"],
                             ["{lang=}x", "a[,]{lang=}b", X * 4001]),
        "response:long-fill-in": (["", "{lang=en}" + X * 4000, "{}{[]}{}", "[,] is text here"],
                                  ["{lang=}x", X * 4001]),
        "response:likert": (["z", "agree", ID250], ["", "a[,]b", "{}", ID250 + "i", "a b"]),
        "response:matching": (["", "a[.]b", "a[.]b[,]c[.]d"],
                              ["a", "a[.]", "[.]b", "a[.]b[.]c", "a[.]b[,]", "[,]a[.]b"]),
        "response:performance": (["step1[.]answer one", "[.]free text", "step[.]", "a[.]1[:]2[,]b[.]x",
                                  "s[.][:]5"],
                                 ["", "noseparator", "[.]", "a[.]b[.]c", "[,]a[.]b", "a[.]b[,]",
                                  "s[.]5[:]1", "a b[.]c"]),
        "response:sequencing": (["a", "a[,]b[,]a"], ["", "[,]", "a[,]", "{}"]),
        "response:numeric": (["410", "-0.23100", "4"], ["", "3.1456200.045", "4000.003a", "-400[:]-500.00"]),
        "response:other": (["", "{}{[]}{}{[]}{}", X * 4000], [X * 4001]),
        "pattern:true-false": (["true", "false"], ["", "invalid"]),
        "pattern:choice": (["", "z", "a[,]b", "[,]".join(f"{i:03d}" + "i" * 247 for i in range(36))],
                           ["[,]", "a[,]a", "{}{[]}{}{[]}{}",
                            "[,]".join(f"{i:03d}" + "i" * 247 for i in range(36)) + "[,]z"]),
        "pattern:fill-in": (["", "{lang=en}", "[,]", "{case_matters=true}z", "{order_matters=false}a[,]b",
                             "{lang=eng}{case_matters=true}z", "{case_matters=false}{order_matters=true}{lang=de}x",
                             "a[,]{case_matters=whatever} is text"],
                            ["{case_matters=true-false}z", "{order_matters=invalid}z", "{lang=}z", X * 4001]),
        "pattern:long-fill-in": (["", "{case_matters=true}" + X * 4000, "{lang=eng}{case_matters=true}z",
                                  "{}{[]}{}{[]}{}"],
                                 ["{case_matters=true-false}z", "{case_matters=invalid}{lang=en}z",
                                  "{lang=}z", X * 4001]),
        "pattern:likert": (["z", ID250], ["", "uri.uri.uri[.]abcd[,]testuri"]),
        "pattern:matching": (["a[.]b", "a[.]b[,]c[.]d"], ["", "z", "a[.]", "[,]a[.]b", "[.]a[.]b"]),
        "pattern:performance": (["{order_matters=true}a[.]b", "{order_matters=false}[.]x[,]y[.]",
                                 "s[.]1[:]2", "s[.][:]", "s[.]-5[:]"],
                                ["{order_matters=true-false}a[.]b", "{order_matters=invalid}a[.]b",
                                 "uri.uri.uri[.]abcd[,]testuri", "s[.]2[:]1", ""]),
        "pattern:sequencing": (["a[,]b", "z"], ["[,]", "[,]a[,]b", ""]),
        "pattern:numeric": (["3[:]10", "3.333[:]4.0", "-1000.333[:]-1.00", "[:]5", "5[:]", "[:]", "7", "2[:]2"],
                            ["300[:]1.5", "30[:]-4500", "100,000.00", "invalid", "1[:]2[:]3", ""]),
        "pattern:other": (["", "{}{[]}", X * 4000], [X * 4001]),
    },
}


# ---------------------------------------------------------------------------------------------
# The independent mini-interpreter: only the exported JSON, exactly as the JS player will do it.
# ---------------------------------------------------------------------------------------------


def mini_check(rules: dict, tname: str, value: str) -> str | None:
    t = rules["types"][tname]
    if "vocab" in t and value not in t["vocab"]:
        return "type"
    if "regex" in t and re.fullmatch(t["regex"], value) is None:
        return "type"
    if "max_length" in t:
        body = value
        if "length_strip" in t:
            m = re.match(t["length_strip"], body)
            body = body[m.end():] if m else body
        if len(body) > t["max_length"]:
            return "length"
    if ("min" in t or "max" in t) and value != "":
        x = float(value)
        if x < t.get("min", float("-inf")) or x > t.get("max", float("inf")):
            return "range"
    items = t.get("items")
    if items:
        body = value
        if "prefix" in items:
            m = re.match(items["prefix"], body)
            body = body[m.end():] if m else body
        parts = body.split(items["split"])
        if items.get("unique") and len(set(parts)) != len(parts):
            return "type"
        if "range" in items:
            for part in parts:
                m = re.fullmatch(items["range"], part)
                if m and m.group(1) and m.group(2) and float(m.group(1)) > float(m.group(2)):
                    return "type"
    return None


def element_for(version: str, tname: str):
    """(cmi, element) where SetValue validates against type ``tname``; None for LMS-only types."""
    rules = export_rules(version)
    for name, spec in rules["elements"].items():
        if spec["access"] == "ro":
            continue
        if spec.get("type") == tname:
            cmi = s12() if version == "1.2" else s2004()
            concrete = name.replace(".n.", ".0.")
            if version == "2004" and name.startswith("cmi.interactions."):
                set_value(version, cmi, "cmi.interactions.0.id", "q1")
                set_value(version, cmi, "cmi.interactions.0.type", "other")
            if version == "2004" and name.startswith("cmi.objectives.") and not name.endswith(".id"):
                set_value(version, cmi, "cmi.objectives.0.id", "o1")
            return cmi, concrete
        for itype, fmt in spec.get("types_by_value", {}).items():
            if fmt == tname:
                return with_interaction(version, itype), name.replace(".n.", ".0.")
        if spec.get("fallback_type") == tname:
            return with_interaction(version, None), name.replace(".n.", ".0.")
    return None


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_every_exported_type_has_samples(version):
    assert set(SAMPLES[version]) == set(export_rules(version)["types"])


def _agreement_cases():
    for version, types in SAMPLES.items():
        for tname, (valid, invalid) in types.items():
            for v in valid:
                yield version, tname, v, True
            for v in invalid:
                yield version, tname, v, False


@pytest.mark.parametrize("version,tname,value,expected_valid", list(_agreement_cases()),
                         ids=lambda x: x if isinstance(x, str) and len(x) < 30 else None)
def test_mini_interpreter_agrees_with_set_value(version, tname, value, expected_valid):
    rules = export_rules(version)
    kind = mini_check(rules, tname, value)
    assert (kind is None) is expected_valid, (tname, value[:60], kind)
    target = element_for(version, tname)
    if target is None:  # a type only LMS-provided elements have: initial values are checked with it
        from app.scorm import datamodel

        code = code_of(datamodel._check_type, version, tname, value, "x")
    else:
        cmi, element = target
        code = code_of(set_value, version, cmi, element, value)
        if expected_valid and code_of(get_value, version, cmi, element) == 0:  # readable elements
            assert get_value(version, cmi, element) == value
    assert code == (0 if kind is None else rules["codes"][kind])


# ---------------------------------------------------------------------------------------------
# Portability of the exported regexes, and the JSON format itself
# ---------------------------------------------------------------------------------------------


def _all_regexes(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("regex", "length_strip", "param", "prefix", "range") and isinstance(v, str):
                yield v
            else:
                yield from _all_regexes(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _all_regexes(v)


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_exported_regexes_are_portable(version):
    rules = export_rules(version)
    found = list(_all_regexes(rules))
    assert len(found) > 10
    for rx in found:
        re.compile(rx)
        rx = rx.replace("[\\s\\S]", "")  # "any character" means the same in both engines
        for bad in ("(?<", "(?P", "\\A", "\\Z", "\\z", "++", "*+", "?+", "}+", "\\d", "\\w", "\\s", "\\S",
                    "\\D", "\\W", "\\b", "\\U", "(?i", "(?s", "(?x", "(?m", "(?a"):
            assert bad not in rx.replace("\\\\", ""), (bad, rx[:80])
        # "." outside a class would differ on line terminators between the engines
        stripped = re.sub(r"\\.", "", rx)
        stripped = re.sub(r"\[(?:[^\]\\]|\\.)*\]", "", stripped)
        assert "." not in stripped, rx[:80]
        assert not re.search(r"\\u[dD][89abAB]", rx), "no surrogate code units in classes"
    if any(k in rules["types"][t] for t in rules["types"] for k in ("regex",)):
        anchored = [t["regex"] for t in rules["types"].values() if "regex" in t]
        assert all(r.startswith("^") and r.endswith("$") for r in anchored)


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_export_is_json_and_documented(version):
    rules = export_rules(version)
    again = json.loads(json.dumps(rules))
    assert again == rules
    assert "ALGORITHM" in rules["format"] and "Array.from(value).length" in rules["format"]
    assert rules["errors"]["0"] and set(map(int, rules["errors"])) == set(ERROR_STRINGS[version])
    for name, spec in rules["elements"].items():
        assert spec["access"] in ("ro", "rw", "wo")
        assert ("type" in spec) or ("value" in spec) or ("types_by_value" in spec), name
        for t in [spec.get("type"), spec.get("fallback_type"), *spec.get("types_by_value", {}).values()]:
            assert t is None or t in rules["types"], (name, t)
        for req in spec.get("requires", []):
            assert req in rules["elements"]
    for arr in rules["arrays"]:
        assert any(e.startswith(arr + ".n.") for e in rules["elements"]), arr
    rules["types"]["real"] = {}  # a deep copy: mutating it changes nothing
    assert export_rules(version) != rules


NODE = shutil.which("node")
JS_INTERPRETER = r"""
const data = JSON.parse(require('fs').readFileSync(0, 'utf8'));
function check(t, value) {
  if (t.vocab && !t.vocab.includes(value)) return 'type';
  if (t.regex && !new RegExp(t.regex).test(value)) return 'type';
  if (t.max_length !== undefined) {
    let body = value;
    if (t.length_strip) { const m = new RegExp(t.length_strip).exec(body); if (m) body = body.slice(m[0].length); }
    if (Array.from(body).length > t.max_length) return 'length';
  }
  if ((t.min !== undefined || t.max !== undefined) && value !== '') {
    const x = Number(value);
    if ((t.min !== undefined && x < t.min) || (t.max !== undefined && x > t.max)) return 'range';
  }
  if (t.items) {
    let body = value;
    if (t.items.prefix) { const m = new RegExp(t.items.prefix).exec(body); if (m) body = body.slice(m[0].length); }
    const parts = body.split(t.items.split);
    if (t.items.unique && new Set(parts).size !== parts.length) return 'type';
    if (t.items.range) {
      const rx = new RegExp(t.items.range);
      for (const p of parts) { const m = rx.exec(p);
        if (m && m[1] && m[2] && Number(m[1]) > Number(m[2])) return 'type'; }
    }
  }
  return null;
}
const out = data.cases.map(([v, t, value]) => check(data.rules[v].types[t], value));
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_javascript_engine_agrees_with_python(tmp_path):
    """The same interpreter in real JavaScript gives the same verdicts as Python on every sample."""
    cases = [(v, t, value) for v, t, value, _ in _agreement_cases()]
    extra = ["5\n", "\n", "a\u2028b", "\u00e9", "😀", "a\r", "x" * 3 + "\u0000"]
    cases += [(v, t, value) for v in SAMPLES for t in SAMPLES[v] for value in extra]
    payload = json.dumps({"rules": {v: export_rules(v) for v in SAMPLES}, "cases": cases})
    script = tmp_path / "interp.js"
    script.write_text(JS_INTERPRETER)
    res = subprocess.run([NODE, str(script)], input=payload, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    js = json.loads(res.stdout)
    py = [mini_check(export_rules(v), t, value) for v, t, value in cases]
    diffs = [(c[0], c[1], c[2][:40], a, b) for c, a, b in zip(cases, py, js) if a != b]
    assert not diffs, diffs[:10]


# ---------------------------------------------------------------------------------------------
# Access, undefined elements, keywords
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version,element,code", [
    ("1.2", "cmi.core.student_id", 403), ("1.2", "cmi.core.total_time", 403), ("1.2", "cmi.launch_data", 403),
    ("1.2", "cmi.core.credit", 403), ("1.2", "cmi.student_data.mastery_score", 403),
    ("1.2", "cmi.comments_from_lms", 403), ("1.2", "cmi._version", 402),
    ("2004", "cmi.learner_id", 404), ("2004", "cmi.total_time", 404), ("2004", "cmi.credit", 404),
    ("2004", "cmi.completion_threshold", 404), ("2004", "cmi.mode", 404), ("2004", "cmi._version", 404),
    ("2004", "cmi.entry", 404), ("2004", "cmi.launch_data", 404), ("2004", "adl.nav.request_valid.continue", 404),
    ("2004", "adl.nav.request_valid.choice.{target=intro}", 404), ("2004", "adl.data.0.id", 404),
])
def test_set_read_only(version, element, code):
    cmi = s12() if version == "1.2" else s2004(shared_data=[("glossary", None)])
    before = dict(cmi)
    assert code_of(set_value, version, cmi, element, "x") == code
    assert cmi == before


@pytest.mark.parametrize("version,element,code", [
    ("1.2", "cmi.core.exit", 404), ("1.2", "cmi.core.session_time", 404),
    ("1.2", "cmi.interactions.0.id", 404), ("1.2", "cmi.interactions.0.student_response", 404),
    ("1.2", "cmi.interactions.0.correct_responses.0.pattern", 404), ("1.2", "cmi.interactions.0.latency", 404),
    ("2004", "cmi.exit", 405), ("2004", "cmi.session_time", 405),
])
def test_get_write_only(version, element, code):
    cmi = with_interaction(version, "choice")
    assert code_of(get_value, version, cmi, element) == code


@pytest.mark.parametrize("version,element,get_code,set_code", [
    ("1.2", "cmi.core.bogus", 201, 201), ("1.2", "cmi.learner_id", 201, 201), ("1.2", "cmi", 201, 201),
    ("1.2", "cmi.core", 201, 201), ("1.2", "cmi.objectives", 201, 201), ("1.2", "", 201, 201),
    ("1.2", "cmi.interactions.n.id", 201, 201), ("1.2", "adl.nav.request", 201, 201),
    ("2004", "cmi.core.lesson_status", 401, 401), ("2004", "cmi", 401, 401), ("2004", "cmi.objectives", 401, 401),
    ("2004", "cmi.score", 401, 401), ("2004", "cmi.bogus", 401, 401), ("2004", "", 301, 351),
    ("2004", "cmi.objectives.0", 401, 401), ("2004", "adl.nav.request_valid.choice", 401, 401),
    ("2004", "adl.nav.request_valid.choice.intro", 401, 401), ("2004", "cmi.interactions.n.id", 401, 401),
])
def test_undefined_elements(version, element, get_code, set_code):
    cmi = s12() if version == "1.2" else s2004()
    assert code_of(get_value, version, cmi, element) == get_code
    assert code_of(set_value, version, cmi, element, "x") == set_code


@pytest.mark.parametrize("version,element,code", [
    ("1.2", "cmi.core._children", 402), ("1.2", "cmi.interactions._count", 402), ("1.2", "cmi.objectives._children", 402),
    ("1.2", "cmi._version", 402), ("1.2", "cmi.core.score._children", 402),
    ("2004", "cmi._version", 404), ("2004", "cmi.interactions._count", 404), ("2004", "cmi.score._children", 404),
    ("2004", "cmi.objectives._children", 404), ("2004", "adl.data._count", 404),
    ("2004", "cmi.bogus._count", 401), ("1.2", "cmi.bogus._children", 201),
])
def test_set_keywords(version, element, code):
    cmi = s12() if version == "1.2" else s2004()
    assert code_of(set_value, version, cmi, element, "illegal") == code


def test_keyword_reads():
    c12, c04 = s12(), s2004(shared_data=[("a", None), ("b", "v")])
    assert get_value("1.2", c12, "cmi._version") == "3.4"
    assert get_value("2004", c04, "cmi._version") == "1.0"
    assert get_value("1.2", c12, "cmi.core._children").startswith("student_id,student_name,lesson_location")
    assert get_value("1.2", c12, "cmi.core.score._children") == "raw,min,max"
    assert get_value("1.2", c12, "cmi.objectives._count") == "0"
    assert get_value("2004", c04, "cmi.score._children") == "scaled,raw,min,max"
    assert get_value("2004", c04, "adl.data._count") == "2"
    assert get_value("2004", c04, "adl.data._children") == "id,store"
    assert set(get_value("2004", c04, "cmi.interactions._children").split(",")) == {
        "id", "type", "objectives", "timestamp", "correct_responses", "weighting", "learner_response", "result",
        "latency", "description"}
    # _children / _count on the wrong kind of element
    assert code_of(get_value, "1.2", c12, "cmi.core.student_id._children") == 202
    assert code_of(get_value, "1.2", c12, "cmi.core._count") == 203
    assert code_of(get_value, "1.2", c12, "cmi.core.lesson_status._count") == 203
    assert code_of(get_value, "2004", c04, "cmi.learner_id._children") == 301
    assert code_of(get_value, "2004", c04, "cmi.score._count") == 301
    assert code_of(get_value, "2004", c04, "cmi.core._children") == 401
    set_value("2004", c04, "cmi.interactions.0.id", "q")
    assert code_of(get_value, "2004", c04, "cmi.interactions.0.objectives._children") == 301
    assert get_value("2004", c04, "cmi.interactions.0.objectives._count") == "0"
    assert code_of(get_value, "2004", c04, "cmi.interactions.1.objectives._count") == 301
    assert code_of(get_value, "2004", c04, "cmi.objectives.0.score._children") == 301
    set_value("2004", c04, "cmi.objectives.0.id", "o")
    assert get_value("2004", c04, "cmi.objectives.0.score._children") == "scaled,raw,min,max"


def test_not_initialized_and_defaults():
    c = s2004()
    for element in ["cmi.location", "cmi.suspend_data", "cmi.score.raw", "cmi.score.scaled", "cmi.progress_measure",
                    "cmi.launch_data", "cmi.max_time_allowed", "cmi.scaled_passing_score", "cmi.completion_threshold"]:
        assert code_of(get_value, "2004", c, element) == 403, element
    assert get_value("2004", c, "cmi.completion_status") == "unknown"
    assert get_value("2004", c, "cmi.success_status") == "unknown"
    assert get_value("2004", c, "cmi.total_time") == "PT0H0M0S"
    assert get_value("2004", c, "cmi.time_limit_action") == "continue,no message"
    assert get_value("2004", c, "cmi.learner_preference.audio_level") == "1"
    assert get_value("2004", c, "cmi.learner_preference.language") == ""
    assert get_value("2004", c, "adl.nav.request") == "_none_"
    assert get_value("2004", c, "adl.nav.request_valid.jump.{target=a1}") == "unknown"
    set_value("2004", c, "cmi.objectives.0.id", "o1")
    assert get_value("2004", c, "cmi.objectives.0.success_status") == "unknown"
    assert code_of(get_value, "2004", c, "cmi.objectives.0.score.raw") == 403
    set_value("2004", c, "cmi.location", "")
    assert get_value("2004", c, "cmi.location") == ""
    c12 = s12()
    assert get_value("1.2", c12, "cmi.core.score.raw") == ""
    assert get_value("1.2", c12, "cmi.suspend_data") == ""
    assert get_value("1.2", c12, "cmi.core.lesson_status") == "not attempted"
    assert get_value("1.2", c12, "cmi.core.total_time") == "0000:00:00"
    assert get_value("1.2", c12, "cmi.student_data.mastery_score") == ""


def test_status_evaluation_against_thresholds():
    c = s2004(completion_threshold=0.6, scaled_passing_score=0.6)
    set_value("2004", c, "cmi.completion_status", "completed")
    set_value("2004", c, "cmi.success_status", "passed")
    assert get_value("2004", c, "cmi.completion_status") == "unknown"
    assert get_value("2004", c, "cmi.success_status") == "unknown"
    set_value("2004", c, "cmi.progress_measure", "0.7")
    set_value("2004", c, "cmi.score.scaled", "0.6")
    assert get_value("2004", c, "cmi.completion_status") == "completed"
    assert get_value("2004", c, "cmi.success_status") == "passed"
    set_value("2004", c, "cmi.completion_status", "incomplete")
    assert get_value("2004", c, "cmi.completion_status") == "completed"
    set_value("2004", c, "cmi.progress_measure", "0.5")
    set_value("2004", c, "cmi.score.scaled", "-1")
    assert get_value("2004", c, "cmi.completion_status") == "incomplete"
    assert get_value("2004", c, "cmi.success_status") == "failed"
    plain = s2004()
    set_value("2004", plain, "cmi.success_status", "failed")
    assert get_value("2004", plain, "cmi.success_status") == "failed"


def test_lesson_status_not_attempted_refused_for_sco():
    c = s12()
    assert code_of(set_value, "1.2", c, "cmi.core.lesson_status", "not attempted") == 405
    set_value("1.2", c, "cmi.core.lesson_status", "incomplete")
    assert get_value("1.2", c, "cmi.core.lesson_status") == "incomplete"


@pytest.mark.parametrize("version,element", [("1.2", "cmi.suspend_data"), ("2004", "cmi.suspend_data")])
def test_suspend_data_64000(version, element):
    c = s12() if version == "1.2" else s2004()
    set_value(version, c, element, "s" * 64000)
    assert get_value(version, c, element) == "s" * 64000
    assert code_of(set_value, version, c, element, "s" * 64001) == (405 if version == "1.2" else 406)
    assert get_value(version, c, element) == "s" * 64000


def test_shared_data_buckets():
    c = s2004(shared_data=[("glossary", "v1"), ("notes", None)])
    assert get_value("2004", c, "adl.data.0.id") == "glossary"
    assert get_value("2004", c, "adl.data.0.store") == "v1"
    assert code_of(get_value, "2004", c, "adl.data.1.store") == 403
    assert code_of(get_value, "2004", c, "adl.data.2.store") == 301
    assert code_of(set_value, "2004", c, "adl.data.2.store", "x") == 351
    set_value("2004", c, "adl.data.1.store", "mine")
    assert code_of(set_value, "2004", c, "adl.data.0.store", "x", locked={"adl.data.0.store"}) == 404
    assert code_of(get_value, "2004", c, "adl.data.0.store", hidden={"adl.data.0.store"}) == 405


# ---------------------------------------------------------------------------------------------
# Arrays and dependencies
# ---------------------------------------------------------------------------------------------


def test_array_index_rules():
    c = s2004()
    assert code_of(set_value, "2004", c, "cmi.interactions.2.id", "q") == 351
    assert code_of(set_value, "2004", c, "cmi.interactions.01.id", "q") == 351  # index 1, count 0
    assert code_of(get_value, "2004", c, "cmi.interactions.0.id") == 301
    set_value("2004", c, "cmi.interactions.0.id", "q0")
    set_value("2004", c, "cmi.interactions.01.id", "q1")  # leading zeros name index 1
    assert "cmi.interactions.1.id" in c and get_value("2004", c, "cmi.interactions.001.id") == "q1"
    assert get_value("2004", c, "cmi.interactions._count") == "2"
    c12 = s12()
    assert code_of(set_value, "1.2", c12, "cmi.interactions.2.id", "q") == 201
    assert code_of(set_value, "1.2", c12, "cmi.objectives.1.id", "o") == 201
    assert code_of(get_value, "1.2", c12, "cmi.objectives.0.id") == 201
    set_value("1.2", c12, "cmi.objectives.0.status", "passed")  # 1.2: any field creates the record
    assert get_value("1.2", c12, "cmi.objectives._count") == "1"
    assert get_value("1.2", c12, "cmi.objectives.0.id") == ""
    set_value("1.2", c12, "cmi.interactions.0.objectives.0.id", "obj")
    assert get_value("1.2", c12, "cmi.interactions._count") == "1"
    assert get_value("1.2", c12, "cmi.interactions.0.objectives._count") == "1"
    assert get_value("1.2", c12, "cmi.interactions.0.correct_responses._count") == "0"


def test_dependencies_2004():
    c = s2004()
    assert code_of(set_value, "2004", c, "cmi.interactions.0.type", "choice") == 408
    assert code_of(set_value, "2004", c, "cmi.interactions.0.objectives.0.id", "o") == 408
    assert code_of(set_value, "2004", c, "cmi.objectives.0.score.scaled", "0.5") == 408
    assert code_of(set_value, "2004", c, "cmi.objectives.0.success_status", "passed") == 408
    set_value("2004", c, "cmi.interactions.0.id", "q")
    assert code_of(set_value, "2004", c, "cmi.interactions.0.learner_response", "a") == 408
    assert code_of(set_value, "2004", c, "cmi.interactions.0.correct_responses.0.pattern", "a") == 408
    set_value("2004", c, "cmi.interactions.0.result", "correct")  # needs only the id
    assert code_of(set_value, "2004", c, "cmi.interactions.1.result", "correct") == 408
    set_value("2004", c, "cmi.comments_from_learner.0.location", "p. 3")  # comments have no dependency
    assert code_of(set_value, "2004", c, "cmi.comments_from_learner.2.comment", "x") == 351


def test_identifier_rules_2004():
    c = s2004()
    set_value("2004", c, "cmi.objectives.0.id", "o1")
    set_value("2004", c, "cmi.objectives.0.id", "o1")
    assert code_of(set_value, "2004", c, "cmi.objectives.0.id", "other") == 351  # write once
    assert code_of(set_value, "2004", c, "cmi.objectives.1.id", "o1") == 351  # unique
    set_value("2004", c, "cmi.interactions.0.id", "q")
    set_value("2004", c, "cmi.interactions.1.id", "q")  # interaction ids may repeat
    set_value("2004", c, "cmi.interactions.0.objectives.0.id", "o1")
    assert code_of(set_value, "2004", c, "cmi.interactions.0.objectives.1.id", "o1") == 351
    set_value("2004", c, "cmi.interactions.1.objectives.0.id", "o1")  # unique per interaction only


def test_correct_response_counts_and_uniqueness():
    c = with_interaction("2004", "true-false")
    set_value("2004", c, "cmi.interactions.0.correct_responses.0.pattern", "true")
    set_value("2004", c, "cmi.interactions.0.correct_responses.0.pattern", "false")  # replacing is fine
    assert code_of(set_value, "2004", c, "cmi.interactions.0.correct_responses.1.pattern", "true") == 351
    assert code_of(set_value, "2004", c, "cmi.interactions.0.correct_responses.1.pattern", "bad") == 351
    c = with_interaction("2004", "choice")
    for i in range(10):
        set_value("2004", c, f"cmi.interactions.0.correct_responses.{i}.pattern", f"p{i}")
    assert code_of(set_value, "2004", c, "cmi.interactions.0.correct_responses.10.pattern", "p1") == 351
    set_value("2004", c, "cmi.interactions.0.correct_responses.10.pattern", "p10")  # SPM 10 is not a maximum
    c = with_interaction("2004", "fill-in")
    set_value("2004", c, "cmi.interactions.0.correct_responses.0.pattern", "")
    set_value("2004", c, "cmi.interactions.0.correct_responses.1.pattern", "")  # duplicates allowed


def test_type_change_rechecks_stored_responses():
    c = with_interaction("2004", "choice")
    set_value("2004", c, "cmi.interactions.0.learner_response", "a[,]b")
    assert code_of(set_value, "2004", c, "cmi.interactions.0.type", "true-false") == 406
    assert get_value("2004", c, "cmi.interactions.0.type") == "choice"
    set_value("2004", c, "cmi.interactions.0.type", "sequencing")
    c = with_interaction("2004", "choice")
    set_value("2004", c, "cmi.interactions.0.correct_responses.0.pattern", "a")
    set_value("2004", c, "cmi.interactions.0.correct_responses.1.pattern", "b")
    assert code_of(set_value, "2004", c, "cmi.interactions.0.type", "likert") == 406  # max 1 pattern
    c12 = with_interaction("1.2")
    set_value("1.2", c12, "cmi.interactions.0.student_response", "maybe")  # no type yet: CMIFeedback
    assert code_of(set_value, "1.2", c12, "cmi.interactions.0.type", "true-false") == 405
    set_value("1.2", c12, "cmi.interactions.0.type", "fill-in")
    assert code_of(set_value, "1.2", c12, "cmi.interactions.0.student_response", "x" * 4097) == 405


def test_array_limits():
    c = s2004()
    for i in range(500):
        set_value("2004", c, f"cmi.interactions.{i}.id", f"q{i}")
    assert code_of(set_value, "2004", c, "cmi.interactions.500.id", "q") == 351
    set_value("2004", c, "cmi.interactions.499.id", "again")
    assert validate_commit("2004", s2004(), c)["cmi.interactions.499.id"] == "again"


# ---------------------------------------------------------------------------------------------
# validate_commit
# ---------------------------------------------------------------------------------------------


def _session_2004():
    before = s2004(launch_data="chapter=2", max_time_allowed="PT1H", completion_threshold="0.8")
    after = dict(before)
    for element, value in [
        ("cmi.location", "p4"), ("cmi.suspend_data", "{\"page\":4}"), ("cmi.exit", "suspend"),
        ("cmi.session_time", "PT12M3.5S"), ("cmi.objectives.0.id", "urn:rmtc:obj:1"),
        ("cmi.objectives.0.score.scaled", "0.9"), ("cmi.interactions.0.id", "q1"),
        ("cmi.interactions.0.type", "choice"), ("cmi.interactions.0.learner_response", "a[,]c"),
        ("cmi.interactions.0.correct_responses.0.pattern", "a[,]c"),
        ("cmi.interactions.0.objectives.0.id", "urn:rmtc:obj:1"),
        ("cmi.comments_from_learner.0.comment", "{lang=sr-Latn}Odlično"),
    ]:
        set_value("2004", after, element, value)
    return before, after


def test_validate_commit_accepts_a_real_session():
    before, after = _session_2004()
    cleaned = validate_commit("2004", before, after)
    assert cleaned == after and cleaned is not after
    partial = {k: v for k, v in after.items() if k not in ("cmi.launch_data", "cmi.learner_id")}
    assert validate_commit("2004", before, partial) == after  # omitted LMS values are restored


@pytest.mark.parametrize("change,code,element", [
    ({"cmi.launch_data": "chapter=9"}, 404, "cmi.launch_data"),
    ({"cmi.total_time": "PT9H"}, 404, "cmi.total_time"),
    ({"cmi.scaled_passing_score": "0.5"}, 404, "cmi.scaled_passing_score"),
    ({"cmi.bogus": "1"}, 401, "cmi.bogus"),
    ({"cmi.interactions.01.id": "q"}, 401, "cmi.interactions.01.id"),
    ({"cmi.interactions._count": "1"}, 401, "cmi.interactions._count"),
    ({"cmi.interactions.2.id": "q3"}, 351, "cmi.interactions.1"),
    ({"cmi.objectives.0.score.scaled": "7"}, 407, "cmi.objectives.0.score.scaled"),
    ({"cmi.interactions.0.learner_response": "a[,]a"}, 406, "cmi.interactions.0.learner_response"),
    ({"cmi.interactions.1.result": "correct"}, 408, "cmi.interactions.1.result"),
    ({"cmi.interactions.1.id": "q2", "cmi.interactions.1.learner_response": "x"}, 408,
     "cmi.interactions.1.learner_response"),
    ({"cmi.objectives.1.id": "urn:rmtc:obj:1"}, 351, "cmi.objectives.1.id"),
    ({"cmi.suspend_data": "x" * 64001}, 406, "cmi.suspend_data"),
])
def test_validate_commit_refusals(change, code, element):
    before, after = _session_2004()
    bad = {**after, **change}
    with pytest.raises(ScormError) as err:
        validate_commit("2004", before, bad)
    assert (err.value.code, err.value.element) == (code, element)


def test_validate_commit_refuses_removal_write_once_and_non_strings():
    before, after = _session_2004()
    stored = validate_commit("2004", before, after)
    later = dict(stored)
    del later["cmi.location"]
    with pytest.raises(ScormError) as err:
        validate_commit("2004", stored, later)
    assert err.value.element == "cmi.location"
    changed = {**stored, "cmi.objectives.0.id": "urn:rmtc:obj:2", "cmi.interactions.0.objectives.0.id": "x"}
    with pytest.raises(ScormError) as err:
        validate_commit("2004", stored, changed)
    assert (err.value.code, err.value.element) == (351, "cmi.objectives.0.id")
    with pytest.raises(ScormError):
        validate_commit("2004", before, {**after, "cmi.location": 5})  # type: ignore[dict-item]
    with pytest.raises(ScormError) as err:
        validate_commit("2004", stored, {**stored, "adl.data.0.store": "x"})
    assert (err.value.code, err.value.element) == (351, "adl.data.0")  # buckets come from the LMS
    with pytest.raises(ScormError) as err:
        validate_commit("2004", stored, {**stored, "cmi._version": "2.0"})
    assert validate_commit("2004", stored, {**stored, "cmi._version": "1.0"}) == stored


def test_validate_commit_1_2():
    before = s12(mastery_score=80, launch_data="x=1")
    after = dict(before)
    for element, value in [("cmi.core.lesson_status", "passed"), ("cmi.core.score.raw", "85"),
                           ("cmi.core.session_time", "0000:10:00"), ("cmi.core.exit", ""),
                           ("cmi.interactions.0.type", "true-false"), ("cmi.interactions.0.student_response", "t"),
                           ("cmi.suspend_data", "z" * 10000)]:
        set_value("1.2", after, element, value)
    assert validate_commit("1.2", before, after) == after
    with pytest.raises(ScormError) as err:
        validate_commit("1.2", before, {**after, "cmi.student_data.mastery_score": "50"})
    assert (err.value.code, err.value.element) == (403, "cmi.student_data.mastery_score")
    with pytest.raises(ScormError) as err:
        validate_commit("1.2", before, {**after, "cmi.interactions.0.student_response": "maybe"})
    assert err.value.code == 405
    with pytest.raises(ScormError) as err:
        validate_commit("1.2", before, {**after, "cmi.interactions.3.id": "q"})
    assert (err.value.code, err.value.element) == (201, "cmi.interactions.1")


def test_any_sequence_of_successful_sets_commits():
    """Whatever set_value accepted, validate_commit accepts (player and server never disagree)."""
    import random

    rng = random.Random(20260)
    for version in ("1.2", "2004"):
        rules = export_rules(version)
        samples = SAMPLES[version]
        before = s12() if version == "1.2" else s2004(shared_data=[("b", None)])
        cmi = dict(before)
        names = [n for n, s in rules["elements"].items() if s["access"] != "ro"]
        accepted = 0
        for _ in range(3000):
            name = rng.choice(names)
            spec = rules["elements"][name]
            element = re.sub(r"\bn\b", lambda _: str(rng.randrange(3)), name)
            tnames = [spec["type"]] if "type" in spec else list(spec["types_by_value"].values())
            valid, invalid = samples[rng.choice(tnames)]
            pool = [v for v in valid + invalid if len(v) < 300] or ["x"]
            try:
                set_value(version, cmi, element, rng.choice(pool))
                accepted += 1
            except ScormError:
                pass
        assert accepted > 300
        assert validate_commit(version, before, cmi) == cmi


# ---------------------------------------------------------------------------------------------
# Interaction formats, as the ADL conformance suite exercises them (plus 1.2 equivalents)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("itype,element,value,code", [
    ("true-false", "learner_response", "true", 0), ("true-false", "learner_response", "1", 406),
    ("choice", "learner_response", "a[,]b", 0), ("choice", "learner_response", "a[,]b[,]a", 406),
    ("fill-in", "learner_response", "{lang=fr}Bonjour[,]Zdravo", 0),
    ("long-fill-in", "learner_response", "{lang=sr-Cyrl}Дуги одговор", 0),
    ("likert", "learner_response", "agree", 0), ("likert", "learner_response", "a[,]b", 406),
    ("matching", "learner_response", "1[.]a[,]2[.]b", 0), ("matching", "learner_response", "1[.]a[,]2", 406),
    ("performance", "learner_response", "step1[.]x[,]step2[.]5", 0),
    ("sequencing", "learner_response", "c[,]a[,]b", 0), ("sequencing", "learner_response", "", 406),
    ("numeric", "learner_response", "-0.25", 0), ("numeric", "learner_response", "1[:]2", 406),
    ("other", "learner_response", "anything {}[,][.]", 0),
    ("numeric", "correct_responses.0.pattern", "1[:]2", 0), ("numeric", "correct_responses.0.pattern", "2[:]1", 406),
    ("performance", "correct_responses.0.pattern", "{order_matters=false}s1[.]3[:]4", 0),
    ("matching", "correct_responses.0.pattern", "", 406),
])
def test_interaction_formats_2004(itype, element, value, code):
    c = with_interaction("2004", itype)
    assert code_of(set_value, "2004", c, f"cmi.interactions.0.{element}", value) == code


@pytest.mark.parametrize("itype,value,code", [
    ("true-false", "t", 0), ("true-false", "0", 0), ("true-false", "yes", 405),
    ("choice", "a,b", 0), ("choice", "{a,b,c}", 0), ("choice", "a,,b", 405),
    ("matching", "1.a,2.b", 0), ("matching", "1-a", 405),
    ("sequencing", "a,b,c", 0), ("likert", "4", 0), ("likert", "4,5", 405),
    ("numeric", "3.5", 0), ("numeric", "three", 405),
    ("fill-in", "Beograd, Srbija", 0), ("performance", "x" * 4096, 0), ("performance", "x" * 4097, 405),
])
def test_interaction_formats_1_2(itype, value, code):
    c = with_interaction("1.2", itype)
    assert code_of(set_value, "1.2", c, "cmi.interactions.0.student_response", value) == code
    c = with_interaction("1.2", itype)
    assert code_of(set_value, "1.2", c, "cmi.interactions.0.correct_responses.0.pattern", value) == code


# ---------------------------------------------------------------------------------------------
# initial_cmi
# ---------------------------------------------------------------------------------------------


def test_initial_cmi_1_2():
    c = initial_cmi("1.2", learner_id="u-7", learner_name="Marko M.", entry="resume", credit="no-credit",
                    mode="review", launch_data="lang=sr", mastery_score=80.0, max_time_allowed="00:30:00",
                    time_limit_action="exit,message", total_time=123456, suspend_data="s", location="p2",
                    comments_from_lms="Dobrodošli")
    assert c == {
        "cmi.core.student_id": "u-7", "cmi.core.student_name": "Marko M.", "cmi.core.credit": "no-credit",
        "cmi.core.entry": "resume", "cmi.core.lesson_mode": "review", "cmi.core.lesson_status": "not attempted",
        "cmi.core.total_time": "0000:20:34.56", "cmi.launch_data": "lang=sr",
        "cmi.student_data.mastery_score": "80", "cmi.student_data.max_time_allowed": "00:30:00",
        "cmi.student_data.time_limit_action": "exit,message", "cmi.suspend_data": "s",
        "cmi.core.lesson_location": "p2", "cmi.comments_from_lms": "Dobrodošli",
    }
    with pytest.raises(ValueError):
        initial_cmi("1.2", learner_id="u", mastery_score=120)
    with pytest.raises(ValueError):
        initial_cmi("1.2", learner_id="u", scaled_passing_score=0.5)


def test_initial_cmi_2004_resume_carries_learner_state():
    before, after = _session_2004()
    c = initial_cmi("2004", learner_id="urn:rmtc:learner:42", entry="resume", previous=after,
                    total_time=timeutil.accumulate_total_time("2004", after["cmi.total_time"], after["cmi.session_time"]),
                    scaled_passing_score=0.75, completion_threshold=0.8,
                    comments_from_lms=[{"comment": "{lang=en}Welcome", "timestamp": "2026-03-01T10:00:00.0Z"}],
                    shared_data=[("glossary", None)], nav_request_valid={"continue": "true", "choice.{target=m2}": "false"})
    assert c["cmi.entry"] == "resume" and c["cmi.total_time"] == "PT12M3.5S"
    assert c["cmi.suspend_data"] == after["cmi.suspend_data"]
    assert c["cmi.interactions.0.learner_response"] == "a[,]c"
    assert "cmi.exit" not in c and "cmi.session_time" not in c and "cmi.launch_data" not in c
    assert c["cmi.scaled_passing_score"] == "0.75"
    assert get_value("2004", c, "cmi.comments_from_lms.0.comment") == "{lang=en}Welcome"
    assert code_of(get_value, "2004", c, "cmi.comments_from_lms.0.location") == 403
    assert get_value("2004", c, "adl.nav.request_valid.continue") == "true"
    assert get_value("2004", c, "adl.nav.request_valid.choice.{target=m2}") == "false"
    assert get_value("2004", c, "adl.data.0.id") == "glossary"
    assert validate_commit("2004", c, c) == c
    with pytest.raises(ValueError):
        initial_cmi("2004", learner_id="has space")
    with pytest.raises(ValueError):
        initial_cmi("2004", learner_id="u", completion_threshold=1.5)
    with pytest.raises(ValueError):
        initial_cmi("2004", learner_id="u", mastery_score=50)


# ---------------------------------------------------------------------------------------------
# timeutil
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,cs", [
    ("0000:00:00", 0), ("0000:01:02.5", 6250), ("00:00:00.05", 5), ("12:34:56.78", 4529678),
    ("9999:59:59.99", 3599999999), ("0000:75:00", 450000),
])
def test_cmitimespan(text, cs):
    assert timeutil.parse_cmitimespan(text) == cs


@pytest.mark.parametrize("text", ["1:2:3", "00:00", "00:00:00.123", "", "PT1S", "0000:00:00 "])
def test_cmitimespan_invalid(text):
    with pytest.raises(ValueError):
        timeutil.parse_cmitimespan(text)


def test_format_cmitimespan():
    assert timeutil.format_cmitimespan(0) == "0000:00:00"
    assert timeutil.format_cmitimespan(6250) == "0000:01:02.50"
    assert timeutil.format_cmitimespan(372305) == "0001:02:03.05"
    assert timeutil.format_cmitimespan(10**12) == "9999:59:59.99"
    assert timeutil.parse_cmitime("23:59:59.9") == 8639990


@pytest.mark.parametrize("text,cs", [
    ("PT0S", 0), ("PT1H2M3.45S", 372345), ("P1DT2H", 9360000), ("PT6.345S", 634), ("PT0.001S", 0),
    ("P1Y", 365 * 8640000), ("P1M", 30 * 8640000), ("PT100H", 36000000), ("P0Y029DT0H", 29 * 8640000),
    ("PT01H059M020S", 716000),
])
def test_iso_duration(text, cs):
    assert timeutil.parse_iso_duration(text) == cs


@pytest.mark.parametrize("text", ["P", "PT", "P1Y6M14DT", "PT1.5H", "P2W", "-PT1S", "1Y", "pt1s", "PT1S\n", ""])
def test_iso_duration_invalid(text):
    with pytest.raises(ValueError):
        timeutil.parse_iso_duration(text)


def test_format_iso_duration_and_accumulation():
    assert timeutil.format_iso_duration(0) == "PT0S"
    assert timeutil.format_iso_duration(372345) == "PT1H2M3.45S"
    assert timeutil.format_iso_duration(350) == "PT3.5S"
    assert timeutil.format_iso_duration(36000000) == "PT100H"
    assert timeutil.format_iso_duration(6000) == "PT1M"
    # exact: a thousand sessions of 0.01 s sum to exactly 10 s
    total = "PT0S"
    for _ in range(1000):
        total = timeutil.accumulate_total_time("2004", total, "PT0.01S")
    assert total == "PT10S"
    total = "0000:00:00"
    for _ in range(1000):
        total = timeutil.accumulate_total_time("1.2", total, "00:00:00.01")
    assert total == "0000:00:10"
    assert timeutil.accumulate_total_time("2004", "PT1H", "garbage") == "PT1H"
    assert timeutil.accumulate_total_time("1.2", "0000:00:00", "") == "0000:00:00"


def test_iso_timestamps():
    assert timeutil.is_iso_timestamp("2004-02-29T23:59:59.99+01:00")
    assert not timeutil.is_iso_timestamp("2005-02-29")
    d = timeutil.parse_iso_timestamp("2026-03-01T10:15:30.5Z")
    assert (d.year, d.minute, d.microsecond, d.utcoffset().total_seconds()) == (2026, 15, 500000, 0)
    assert timeutil.parse_iso_timestamp("2004-04").tzinfo is None
    assert timeutil.parse_iso_timestamp("2004-04-01T09:45:58.55-03:30").utcoffset().total_seconds() == -12600
    with pytest.raises(ValueError):
        timeutil.parse_iso_timestamp("2004-04-01T09:45:58Z")
